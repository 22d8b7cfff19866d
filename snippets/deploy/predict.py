"""Predict digits with an exported model, without the model's Python class.

    python predict.py exported/digits.onnx exported/sample.csv
    python predict.py exported/digits.pt2 exported/sample.npy

MODEL is a torch.export program (.pt2, read with torch.export.load) or an ONNX model
(.onnx, run with onnxruntime: that path does not import torch at all). INPUT is a .csv
(comma-separated numbers, one image per row) or a .npy array, of shape (N, 64) or (N, 8, 8):
pixel values 0..16 as scikit-learn's load_digits gives them. Prints one line per image.
A problem with either file ends the program with one line naming it and exit status 2,
before anything is printed to standard output.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np


class BadInput(Exception):
    """A problem with a file given on the command line: the message names it."""


def load_pixels(path: Path) -> np.ndarray:
    if not path.is_file():
        raise BadInput(f"input {path}: no such file")
    try:
        if path.suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            with warnings.catch_warnings():  # an empty file: numpy warns, the shape check below says it
                warnings.simplefilter("ignore")
                data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float32)
        else:
            raise BadInput(f"input {path}: expected a .csv or .npy file")
    except (ValueError, OSError) as e:
        raise BadInput(f"input {path}: cannot read numbers from it ({str(e).splitlines()[0]})") from None
    if data.size == 0:
        raise BadInput(f"input {path}: no images in it")
    if data.ndim == 3 and data.shape[1:] == (8, 8):
        data = data.reshape(len(data), 64)
    if data.ndim != 2 or data.shape[1] != 64:
        raise BadInput(f"input {path}: expected shape (N, 64) or (N, 8, 8), got {data.shape}")
    if not np.issubdtype(data.dtype, np.number) or not np.isfinite(data).all():
        raise BadInput(f"input {path}: expected finite pixel values 0..16")
    return data.astype(np.float32)


class OnnxModel:
    def __init__(self, path: Path):
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own error types for a bad file
            raise BadInput(f"model {path}: not an ONNX model onnxruntime can load ({type(e).__name__})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BadInput(f"model {path}: expected one input, it has {len(inputs)}")
        self.input = inputs[0].name
        self.shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)  # None: any size

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: pixels})[0]


class ExportedModel:
    def __init__(self, path: Path):
        import torch
        from torch.export.graph_signature import InputKind

        torch.set_num_threads(1)
        logging.getLogger("torch.export").setLevel(logging.CRITICAL)  # it logs a traceback on a bad file
        try:
            program = torch.export.load(path)
        except Exception as e:  # a zip that is no exported program, or no zip at all
            raise BadInput(f"model {path}: not a torch.export program ({type(e).__name__})") from None
        user = [s.arg.name for s in program.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
        if len(user) != 1:
            raise BadInput(f"model {path}: expected one input, it has {len(user)}")
        node = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == user[0])
        self.shape = tuple(d if isinstance(d, int) else None for d in node.meta["val"].shape)
        self.module, self.torch = program.module(), torch

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(pixels)).numpy()


def load_model(path: Path):
    if not path.is_file():
        raise BadInput(f"model {path}: no such file")
    if path.suffix == ".onnx":
        return OnnxModel(path)
    if path.suffix == ".pt2":
        return ExportedModel(path)
    raise BadInput(f"model {path}: expected a .pt2 (torch.export) or .onnx file")


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="an exported model: .pt2 or .onnx")
    p.add_argument("input", type=Path, help="images as .csv or .npy, shape (N, 64) or (N, 8, 8)")
    args = p.parse_args(argv)
    try:
        pixels = load_pixels(args.input)
        model = load_model(args.model)
        if len(model.shape) != 2 or model.shape[1] not in (None, pixels.shape[1]):
            raise BadInput(f"model {args.model}: takes input of shape {model.shape}, not (N, 64) pixels")
        probabilities = softmax(model(pixels))
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for i, row in enumerate(probabilities):
        print(f"image {i}: digit {row.argmax()} (probability {row.max():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
