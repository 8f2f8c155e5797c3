"""The Export page's pieces: which design or run to export (sources) and the download buttons (downloads)."""
