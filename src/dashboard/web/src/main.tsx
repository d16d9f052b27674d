// The dashboard page: reads its config (which also tells whether a token is needed), then shows
// the page the address's hash names.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, adoptTokenFromUrl, api, clearToken, onAuthRequired } from './api';
import { ErrorBox } from './components/ui';
import { href, useRoute } from './hooks';
import { GroupsPage } from './pages/Groups';
import { LoginPage } from './pages/Login';
import { QueuePage } from './pages/Queue';
import { QueuesPage } from './pages/Queues';
import { SchedulerPage } from './pages/Scheduler';
import { SearchPage } from './pages/Search';
import { ServersPage } from './pages/Servers';
import { TaskPage } from './pages/Task';
import type { Config } from './types';
import './style.css';

adoptTokenFromUrl();

function App() {
  const [config, setConfig] = useState<Config | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const [login, setLogin] = useState<'no' | 'ask' | 'failed'>('no');
  const [attempt, setAttempt] = useState(0);
  const route = useRoute();

  useEffect(() => onAuthRequired(() => setLogin((l) => (l === 'no' ? 'ask' : l))), []);
  useEffect(() => {
    api
      .get<Config>('config')
      .then((c) => {
        setConfig(c);
        setLogin('no');
        setError(undefined);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setLogin(attempt > 0 ? 'failed' : 'ask');
        else setError(err as Error);
      });
  }, [attempt]);

  if (login !== 'no')
    return (
      <LoginPage
        failed={login === 'failed'}
        onDone={() => {
          setConfig(undefined);
          setAttempt((a) => a + 1);
        }}
      />
    );
  const [page = '', a, b, c] = route.path;
  return (
    <div class="layout">
      <header class="top">
        <a class="brand" href="#/">
          taskmill
        </a>
        <nav>
          <a href="#/" class={page === '' || page === 'queues' ? 'current' : ''}>
            Queues
          </a>
          <a href="#/servers" class={page === 'servers' ? 'current' : ''}>
            Servers
          </a>
          <a href="#/scheduler" class={page === 'scheduler' ? 'current' : ''}>
            Scheduler
          </a>
          <a href="#/groups" class={page === 'groups' ? 'current' : ''}>
            Groups
          </a>
        </nav>
        <form
          class="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            const input = (e.currentTarget as HTMLFormElement).elements.namedItem('id') as HTMLInputElement;
            location.hash = href(['search'], { id: input.value.trim() });
          }}
        >
          <input name="id" placeholder="Find a task by id" aria-label="Task id" data-testid="search-input" />
        </form>
        {config?.readOnly ? <span class="badge paused">read-only</span> : null}
        {config?.auth ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              clearToken();
              setConfig(undefined);
              setLogin('ask');
            }}
          >
            Sign out
          </button>
        ) : null}
      </header>
      <main>
        <ErrorBox error={error} />
        {!config ? null : page === '' ? (
          <QueuesPage config={config} />
        ) : page === 'queues' && a && b === 'tasks' && c ? (
          <TaskPage queue={a} id={c} config={config} />
        ) : page === 'queues' && a ? (
          <QueuePage queue={a} query={route.query} config={config} />
        ) : page === 'queues' ? (
          <QueuesPage config={config} />
        ) : page === 'servers' ? (
          <ServersPage />
        ) : page === 'scheduler' ? (
          <SchedulerPage />
        ) : page === 'groups' ? (
          <GroupsPage />
        ) : page === 'search' ? (
          <SearchPage id={route.query.get('id') ?? ''} />
        ) : (
          <p>No such page.</p>
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
