// A ref that always holds the latest value: lets stable callbacks (React Flow's handlers, the memoised palette's
// onPick) read the newest props without being recreated on every update from Python.
import { useRef, type RefObject } from "react";

export function useLatest<T>(value: T): RefObject<T> {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}
