/** The operator dashboard: a shell with navigation and the token prompt, and one view per hash route. */
import './styles.css';
import { authPrompt } from './auth-prompt';
import { type Dispose, h } from './dom';
import { parseRoute } from './routes';
import { onTokenChange } from './token';
import { chargerView } from './views/charger';
import { chargersView } from './views/chargers';
import { overviewView } from './views/overview';

const main = h('main', { id: 'view' });
const nav = h('nav', { class: 'top' }, h('a', { href: '#/', 'data-nav': 'overview' }, 'Fleet'), h('a', { href: '#/chargers', 'data-nav': 'chargers' }, 'Chargers'));
document.body.append(h('header', {}, h('strong', { class: 'brand' }, 'OCPP gateway'), nav), authPrompt(), main);

let dispose: Dispose | undefined;

function render(): void {
  dispose?.();
  const route = parseRoute(location.hash);
  for (const link of nav.querySelectorAll<HTMLAnchorElement>('a')) {
    const current = link.dataset.nav === (route.name === 'overview' ? 'overview' : 'chargers');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (route.name === 'overview') dispose = overviewView(main);
  else if (route.name === 'chargers') dispose = chargersView(main, route.params);
  else dispose = chargerView(main, route.id);
}

window.addEventListener('hashchange', render);
// A new token: draw the view again, now with data.
onTokenChange(render);
render();
