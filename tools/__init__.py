"""The harness, in layers; a module imports only from its own layer or the ones above it here:

    facts.py, browser.py   project facts (paths, URLs, the torch pin) and the shared Chromium
    pages/                 the page model and what it generates: snippets, notebooks, diagrams, glossary
    run/                   the one run of every chapter (kept until its inputs change), the network guard,
                           `make outputs`, compat results
    site/                  MkDocs hooks, one concern each (mkdocs.yml `hooks:`)
    checks/                checks of the built site and the publish: budget, axe, search, bench

tests/test_tools.py::test_no_module_imports_a_layer_below_it holds the order.
"""
