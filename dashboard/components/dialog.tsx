/**
 * A confirmation in a modal <dialog>: the browser keeps focus inside it and closes it on
 * Escape; focus returns to the control that opened it.
 */
import type { Child } from "hono/jsx";
import { useLayoutEffect, useRef } from "hono/jsx/dom";

export function Dialog(props: { title: string; onClose: () => void; children: Child }) {
  const dialog = useRef<HTMLDialogElement>(null);
  // A layout effect: the opener is the control just used, before any later key press moves focus.
  useLayoutEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const element = dialog.current;
    element?.showModal();
    const closed = () => props.onClose();
    element?.addEventListener("close", closed);
    return () => {
      element?.removeEventListener("close", closed);
      if (element?.open) element.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="dialog-title">
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}
