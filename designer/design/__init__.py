"""The Design page's pieces: what the canvas is sent (convert), the session's state machine (session), the design
checked once per revision (checked), undo/redo (history), the palette, the properties form and the summary. The
edits themselves and the auto-layout are the engine's (engine.edit, engine.layout)."""
