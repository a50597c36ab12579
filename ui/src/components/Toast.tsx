import { useEffect, useRef, useState } from "preact/hooks";

/** How long a toast stays: long enough to read a sentence, short enough not to sit over the grid. */
export const TOAST_MS = 4000;

/** A message that shows, then leaves by itself (a new one restarts the clock). */
export function useToast(): [string | null, (text: string) => void] {
  const [text, setText] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const show = (message: string) => {
    setText(message);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setText(null), TOAST_MS);
  };
  return [text, show];
}

/** Always in the page (empty when quiet), so screen readers announce what appears in it. */
export function Toast({ text }: { text: string | null }) {
  return (
    <p class="toast" role="status">
      {text}
    </p>
  );
}
