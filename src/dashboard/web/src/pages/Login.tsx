// Asks for the dashboard's token once; it is kept in this tab's sessionStorage only.
import { useState } from 'preact/hooks';
import { setToken } from '../api';

export function LoginPage({ failed, onDone }: { failed: boolean; onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <div class="login">
      <form
        class="card"
        data-testid="login-form"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim());
          onDone();
        }}
      >
        <h1>taskmill</h1>
        <p>This dashboard needs a token.</p>
        {failed ? <p class="error">That token was not accepted.</p> : null}
        <label>
          Token{' '}
          <input
            type="password"
            name="token"
            autocomplete="off"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </div>
  );
}
