import { createApp } from 'vue';
import { createConnection } from 'socketchart';
import { createSocketchart } from 'socketchart/vue';
import App from './App.vue';

const user = new URLSearchParams(location.search).get('user') ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
const connection = createConnection({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?e=chat`,
  auth: { token: async () => user },
  heartbeat: { intervalMs: 10_000, timeoutMs: 3_000 },
});

createApp(App, { user }).use(createSocketchart({ connection })).mount('#app');
