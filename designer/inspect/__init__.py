"""The Inspect page's pieces: run and input choice, one view per method, plot builders and a result cache."""
