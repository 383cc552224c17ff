/** The portal's script: the page the worker serves at PORTAL_PATH holds only #app. */
import { render } from "hono/jsx/dom";
import { App } from "./app.tsx";

const root = document.getElementById("app");
if (root) {
  root.replaceChildren();
  render(<App />, root);
}
