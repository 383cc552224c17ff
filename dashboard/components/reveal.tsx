/**
 * A key shown once, as Stripe shows a new secret: a read-only field with a Copy button and a
 * plain warning. keygate stores only the key's hash; once this page is left, it is gone.
 */
import { useLayoutEffect, useRef, useState } from "hono/jsx/dom";

async function copy(field: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    // No clipboard API (an insecure origin) or no permission: select the text for Ctrl-C instead.
    field.focus();
    field.select();
    return false;
  }
}

/**
 * `label` and `warning` name what is shown: a key by default ("New key"), a webhook endpoint's
 * signing secret on the webhooks pages.
 */
export function RevealedKey(props: { secret: string; heading: string; children?: unknown; label?: string; warning?: string }) {
  const field = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  return (
    <section class="reveal" aria-labelledby="reveal-heading">
      <h2 id="reveal-heading" tabindex={-1} ref={heading}>
        {props.heading}
      </h2>
      <p class="warning" id="reveal-warning">
        {props.warning ?? "Copy this key now and keep it somewhere safe. keygate stores only a hash of it, so it will not be shown again."}
      </p>
      <div class="field">
        <label for="new-key">{props.label ?? "New key"}</label>
        <div class="copy-row">
          <input id="new-key" type="text" readonly value={props.secret} aria-describedby="reveal-warning" spellcheck={false} autocomplete="off" ref={field} />
          <button type="button" onClick={async () => field.current && setCopied(await copy(field.current))}>
            Copy
          </button>
        </div>
        <p class="hint" role="status">
          {copied === true ? "Copied to the clipboard." : copied === false ? "Selected: press Ctrl-C (⌘-C) to copy." : ""}
        </p>
      </div>
      {props.children}
    </section>
  );
}
