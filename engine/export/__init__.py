"""Taking a design away: formats.py (.py, TorchScript, ONNX, safetensors) and bundle.py (a verified zip whose
test_model.py and train.py, built from bundle_test_template.py and bundle_train_template.py, run on their own)."""
