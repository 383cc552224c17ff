/**
 * A page's filters as a search form: Enter or the button applies the text fields, a changed
 * select applies at once; the values go to the page's query string (Back keeps them).
 */
import type { Child } from "hono/jsx";
import { href, navigate } from "../router.tsx";

export function FilterForm(props: { label: string; path: string; names: string[]; children: Child }) {
  const apply = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const values = props.names.map((name) => [name, String(data.get(name) ?? "").trim() || undefined]);
    navigate(href(props.path, Object.fromEntries(values)), { replace: true });
  };
  return (
    <form
      class="filters"
      role="search"
      aria-label={props.label}
      onSubmit={(e: Event) => {
        e.preventDefault();
        apply(e.target as HTMLFormElement);
      }}
      onChange={(e: Event) => (e.target as HTMLElement).tagName === "SELECT" && apply((e.target as HTMLSelectElement).form!)}
    >
      {props.children}
    </form>
  );
}
