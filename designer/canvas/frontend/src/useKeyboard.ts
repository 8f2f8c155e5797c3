// Keys. Delete / Backspace delete the selection: React Flow handles them (DELETE_KEYS goes to its deleteKeyCode)
// and reports the deletion through onDelete. Ctrl+Z undoes, Ctrl+Shift+Z and Ctrl+Y redo (Cmd on a Mac), anywhere
// on the page except while typing in a field.
import { useEffect } from "react";

export const DELETE_KEYS = ["Backspace", "Delete"];

export type HistoryCommand = "undo" | "redo";

interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
}

/** The history command a key press asks for, or null. `target`: the element the key went to. */
export function historyKey(e: KeyLike, target: { isContentEditable?: boolean; tagName?: string } | null):
  HistoryCommand | null {
  if (!(e.ctrlKey || e.metaKey)) return null;
  if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName ?? ""))) {
    return null;
  }
  const k = e.key.toLowerCase();
  if (k === "z") return e.shiftKey ? "redo" : "undo";
  if (k === "y") return "redo";
  return null;
}

/** Undo / redo keys on the whole document (the canvas lives in a shadow root: the real target is composedPath's
 * first element). */
export function useKeyboard(run: (c: HistoryCommand) => void): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = (e.composedPath?.()[0] ?? e.target) as HTMLElement | null;
      const c = historyKey(e, t);
      if (!c) return;
      run(c);
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [run]);
}
