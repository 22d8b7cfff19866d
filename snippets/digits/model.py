"""The model: a small multilayer perceptron for 8x8 digit images (64 pixels, 10 classes)."""

from torch import nn


class DigitsNet(nn.Module):
    def __init__(self, n_inputs: int = 64, n_hidden: int = 64, n_classes: int = 10):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, n_hidden),
            nn.ReLU(),
            nn.Linear(n_hidden, n_classes),
        )

    def forward(self, x):
        return self.layers(x)  # logits; nn.CrossEntropyLoss applies log-softmax itself
