/** A record's "Details" section: one labelled value per row, as a description list. */
export type DetailRow = [label: string, value: unknown];

export function DetailsList(props: { rows: DetailRow[] }) {
  return (
    <section aria-labelledby="details-heading">
      <h2 id="details-heading">Details</h2>
      <dl class="details">
        {props.rows.map(([label, value]) => (
          <div>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
