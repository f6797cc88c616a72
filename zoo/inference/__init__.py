"""Inference: published weights on real images (`zoo predict`) and in other runtimes (`zoo export`).

`imaging.py` turns any image file into the model's input the way its training data was made,
`predict.py` holds `Predictor`, `export.py` writes ONNX, TorchScript and torch.export files, and
`cli.py` the two commands. Import from the modules themselves.
"""
