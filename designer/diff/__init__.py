"""The Diff page's pieces: which two designs to compare (sources), their read-only canvases with the diff's marks
(canvas), the changes with their Apply buttons and the two runs' curves and final metrics (show)."""
