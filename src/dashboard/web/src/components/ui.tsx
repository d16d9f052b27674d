// Small shared pieces of the pages. Every value from the server goes into text nodes (JSX
// expressions), never into HTML: a payload or error with markup shows as that markup's text.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { bytes } from '../format';
import type { Rendered } from '../types';

export function ErrorBox({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'ERR';
  return (
    <div class="error" role="alert">
      <strong>{code}</strong> {error.message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}

/** A payload or result: pretty JSON, text, or a hex dump, with its size. */
export function Bytes({ value, label }: { value: Rendered | null; label: string }) {
  if (value === null || value.kind === 'empty') return <p class="muted">No {label}.</p>;
  return (
    <div>
      <p class="muted small">
        {value.kind === 'binary' ? 'binary (hex)' : value.kind} · {bytes(value.size)}
        {value.truncated ? ' · cut for display' : ''}
      </p>
      <pre class="code" data-testid={`${label}-text`}>
        {value.text}
      </pre>
    </div>
  );
}

/** One line preview for tables. */
export function Preview({ value }: { value: Rendered }) {
  if (value.kind === 'empty') return <span class="muted">—</span>;
  const oneLine = value.kind === 'json' ? JSON.stringify(safeParse(value.text)) : value.text;
  const text = oneLine.length > 80 ? `${oneLine.slice(0, 80)}…` : oneLine;
  return <code class="preview">{text}</code>;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A button that runs an action, shows it is busy, and reports the error next to it. `confirm` asks
 * first (bulk and destructive actions).
 */
export function ActionButton({
  label,
  run,
  confirm,
  danger,
  testId,
}: {
  label: string;
  run: () => Promise<unknown>;
  confirm?: string;
  danger?: boolean;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  return (
    <span class="action">
      <button
        type="button"
        class={danger ? 'danger' : ''}
        disabled={busy}
        data-testid={testId}
        onClick={async () => {
          if (confirm && !window.confirm(confirm)) return;
          setBusy(true);
          setError(undefined);
          try {
            await run();
          } catch (err) {
            setError(err as Error);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? '…' : label}
      </button>
      {error ? (
        <span class="error inline" role="alert">
          {error.message}
        </span>
      ) : null}
    </span>
  );
}

export function Card({
  title,
  children,
  actions,
}: {
  title?: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card">
      {title || actions ? (
        <header class="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions ? <div class="actions">{actions}</div> : null}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}
