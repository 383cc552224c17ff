/**
 * Loading and changing data through the typed client, and showing keygate's problems where
 * they happened: a load's problem where its data would be, an action's next to its control.
 * A 401 from any call ends the session: the app returns to sign-in.
 */
import { useCallback, useLayoutEffect, useState } from "hono/jsx/dom";
import { problemOf, type Problem } from "./session.ts";

const UNAUTHORIZED = "keygate:unauthorized";

function noticed(err: unknown): Problem {
  const problem = problemOf(err);
  if (problem.status === 401) window.dispatchEvent(new CustomEvent<Problem>(UNAUTHORIZED, { detail: problem }));
  return problem;
}

/** Calls `signOut` with keygate's problem when any call answers 401. */
export function useUnauthorized(signOut: (problem: Problem) => void): void {
  useLayoutEffect(() => {
    const listener = (event: Event) => signOut((event as CustomEvent<Problem>).detail);
    window.addEventListener(UNAUTHORIZED, listener);
    return () => window.removeEventListener(UNAUTHORIZED, listener);
  }, [signOut]);
}

export interface Loaded<T> {
  data?: T;
  problem?: Problem;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads when `deps` change (and on reload()); an answer to an outdated load, or one that comes
 * after the page was left, is dropped. The load starts in a layout effect, with the render that
 * drew the page: a plain effect waits for an animation frame, and one that runs after a quick
 * click has already left the page would set state on a page no longer shown, which hono/jsx
 * then draws again below the new one.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; problem?: Problem; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useLayoutEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (err) => current && setState({ problem: noticed(err), loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

export interface Action<A extends unknown[], T> {
  run: (...args: A) => Promise<T | undefined>;
  busy: boolean;
  problem: Problem | undefined;
  clear: () => void;
}

/** A change: `run` resolves to the answer, or to undefined with `problem` set. */
export function useAction<A extends unknown[], T>(act: (...args: A) => Promise<T>): Action<A, T> {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>(undefined);
  const run = async (...args: A) => {
    setBusy(true);
    setProblem(undefined);
    try {
      return await act(...args);
    } catch (err) {
      setProblem(noticed(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, problem, clear: () => setProblem(undefined) };
}

/** keygate's problem as it said it: its title and detail (which names the fields at fault). */
export function ProblemMessage(props: { problem: Problem | undefined }) {
  if (!props.problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{props.problem.title}.</strong> {props.problem.detail}
    </div>
  );
}
