/** Where the CLI writes: data and views on stdout, notes and errors on stderr, each coloured only where that stream allows. */
import { colourEnabled, paint, type Paint } from "./colour.ts";
import { renderFields, renderTable, terminalWidth, truncate, type Column } from "./table.ts";
import { jsonText, printable } from "./printable.ts";

export type { Column } from "./table.ts";

type Stream = NodeJS.WriteStream;

export interface Output {
  /** colours for stdout */
  paint: Paint;
  /** colours for stderr */
  paintErr: Paint;
  print(text: string): void;
  /** one line of text about what follows, cut to the width */
  heading(text: string): void;
  /** the API's JSON, as it answered (characters that would act on a terminal escaped) */
  json(value: unknown): void;
  table<Row>(columns: Column<Row>[], rows: Row[]): void;
  fields(fields: [label: string, value: string][]): void;
  /** a remark beside the data (more pages, hints), on stderr so pipes carry data only */
  note(text: string): void;
  error(text: string): void;
  /** whether stderr is a terminal, where progress is drawn in place */
  errIsTerminal: boolean;
  /** on a terminal: draws this line of progress on stderr over the last one; null clears it */
  progress(text: string | null): void;
}

export function createOutput(stdout: Stream = process.stdout, stderr: Stream = process.stderr, env = process.env): Output {
  const out = paint(colourEnabled(stdout, env));
  const err = paint(colourEnabled(stderr, env));
  const print = (text: string) => void stdout.write(`${text}\n`);
  return {
    paint: out,
    paintErr: err,
    print,
    heading: (text) => print(truncate(printable(text), terminalWidth(stdout))),
    json: (value) => print(jsonText(value)),
    table: (columns, rows) => print(renderTable(columns, rows, terminalWidth(stdout), out.bold)),
    fields: (fields) => print(renderFields(fields, terminalWidth(stdout))),
    note: (text) => void stderr.write(`${err.dim(text)}\n`),
    error: (text) => void stderr.write(`${text}\n`),
    errIsTerminal: stderr.isTTY === true,
    progress: (text) => {
      if (stderr.isTTY) stderr.write(text === null ? "\r\u001b[2K" : `\r\u001b[2K${truncate(text, terminalWidth(stderr) - 1)}`);
    },
  };
}
