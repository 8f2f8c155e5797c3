"""The Train page's pieces: the settings form, the live curves, the runs list, the results, and plot builders."""
