/** Cursor pages, as keygate's lists give them: the cursors of the pages before stay in memory for Previous. */
import { useState } from "hono/jsx/dom";

export function usePages(resetOn: string) {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({ key: resetOn, stack: [undefined] });
  const stack = state.key === resetOn ? state.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (cursor: string) => setState({ key: resetOn, stack: [...stack, cursor] }),
    previous: () => setState({ key: resetOn, stack: stack.slice(0, -1) }),
  };
}

export function Pager(props: { label: string; page: number; nextCursor: string | null | undefined; onNext: (cursor: string) => void; onPrevious: () => void }) {
  if (props.page === 1 && !props.nextCursor) return null;
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" class="secondary" disabled={props.page === 1} onClick={props.onPrevious}>
        Previous page
      </button>
      <span>Page {props.page}</span>
      <button type="button" class="secondary" disabled={!props.nextCursor} onClick={() => props.nextCursor && props.onNext(props.nextCursor)}>
        Next page
      </button>
    </nav>
  );
}
