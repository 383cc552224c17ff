/**
 * Colour for one stream: only when it is a terminal, never with NO_COLOR (no-color.org: any
 * non-empty value) or TERM=dumb. Everything else gets the text unchanged.
 */
const CODES = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;

export type Paint = Record<keyof typeof CODES, (text: string) => string>;

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

export function paint(enabled: boolean): Paint {
  const style = ([open, close]: readonly [number, number]) => (text: string) =>
    enabled && text ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return Object.fromEntries(Object.entries(CODES).map(([name, codes]) => [name, style(codes)])) as Paint;
}
