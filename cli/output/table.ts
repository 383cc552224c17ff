/**
 * Aligned tables and label/value views that fit the terminal: its width on a TTY, else 80
 * columns. Cells too wide are cut with an ellipsis; when even that cannot fit, optional
 * columns are left out (their data stays in --json).
 */

import { printable } from "./printable.ts";

export { printable };

export const displayWidth = (text: string) => [...text].length;

export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 1 ? "…".slice(0, width) : `${chars.slice(0, width - 1).join("")}…`;
}

export function terminalWidth(stream: { isTTY?: boolean; columns?: number }): number {
  return stream.isTTY && stream.columns ? stream.columns : 80;
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
  align?: "left" | "right";
  /** may be cut down to this width (default: never cut) */
  min?: number;
  /** left out when the table does not fit; higher numbers go first */
  drop?: number;
  /** colours the (already padded) cell */
  style?: (cell: string, row: Row) => string;
}

const GAP = "  ";

export function renderTable<Row>(columns: Column<Row>[], rows: Row[], width: number, header = (text: string) => text): string {
  const cells = rows.map((row) => columns.map((c) => printable(c.value(row))));
  const natural = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i]))));
  let shown = columns.map((_, i) => i);
  const widths = [...natural];
  const total = () => shown.reduce((sum, i) => sum + widths[i], 0) + GAP.length * (shown.length - 1);
  for (;;) {
    // cut the widest cuttable column, a character at a time, until the table fits
    while (total() > width) {
      const cuttable = shown.filter((i) => columns[i].min !== undefined && widths[i] > columns[i].min!);
      if (cuttable.length === 0) break;
      const widest = cuttable.reduce((a, b) => (widths[b] > widths[a] ? b : a));
      widths[widest]--;
    }
    const droppable = shown.filter((i) => columns[i].drop !== undefined);
    if (total() <= width || droppable.length === 0) break;
    const first = droppable.reduce((a, b) => (columns[b].drop! > columns[a].drop! ? b : a));
    shown = shown.filter((i) => i !== first);
    shown.forEach((i) => (widths[i] = natural[i]));
  }
  const line = (values: string[], style?: (cell: string, i: number) => string) =>
    shown
      .map((i, n) => {
        const cut = truncate(values[i], widths[i]);
        const pad = " ".repeat(widths[i] - displayWidth(cut));
        const cell = n === shown.length - 1 && columns[i].align !== "right" ? cut : columns[i].align === "right" ? pad + cut : cut + pad;
        return style ? style(cell, i) : cell;
      })
      .join(GAP);
  return [
    line(columns.map((c) => c.header), header),
    ...cells.map((values, r) => line(values, (cell, i) => columns[i].style?.(cell, rows[r]) ?? cell)),
  ].join("\n");
}

/** "Label   value" lines, values cut to the width. */
export function renderFields(fields: [label: string, value: string][], width: number): string {
  const labelWidth = Math.max(...fields.map(([label]) => displayWidth(label)));
  return fields
    .map(([label, value]) => `${label.padEnd(labelWidth)}${GAP}${truncate(printable(value), Math.max(width - labelWidth - GAP.length, 8))}`)
    .join("\n");
}
