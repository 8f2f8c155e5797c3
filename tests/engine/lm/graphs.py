"""A tiny word-level language model graph for the tests: Embedding → stacked LSTM → Linear over V words."""

def lm_graph(V=100, T=20, H=16, layers=2, stateful=True, dropout=0.0):
    return {"format": "convas-graph", "version": 1, "name": "tiny lm",
            "nodes": [{"id": "tokens", "op": "Input", "params": {"shape": [T], "dtype": "int64"}},
                      {"id": "embed", "op": "Embedding", "params": {"num_embeddings": V, "embedding_dim": H},
                       "inputs": ["tokens"]},
                      {"id": "lstm", "op": "LSTM", "params": {"hidden_size": H, "num_layers": layers, "dropout": dropout,
                                                              "stateful": stateful, "return_sequence": True},
                       "inputs": ["embed"]},
                      {"id": "fc", "op": "Linear", "params": {"out_features": V}, "inputs": ["lstm"]}],
            "outputs": ["fc"], "task": {"kind": "language_model", "num_classes": V}}
