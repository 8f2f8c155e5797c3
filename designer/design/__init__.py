"""The Design page's pieces: what the canvas is sent (convert), the session's state machine (session), undo/redo
(history), the palette, the properties form and the summary."""
