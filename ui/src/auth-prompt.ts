/**
 * Shown when the admin API answers 401: the operator types the admin token once per tab. The page itself is
 * public (it holds no data); every call it makes carries the token.
 */
import { h } from './dom';
import { currentToken, onAuthRequired, setToken } from './token';

export function authPrompt(): HTMLElement {
  const input = h('input', { type: 'password', autocomplete: 'off', 'aria-label': 'Admin token', 'data-testid': 'auth-token', required: true });
  const message = h('p', { 'data-testid': 'auth-message' });
  const form = h(
    'form',
    { class: 'auth', hidden: true, 'data-testid': 'auth-form' },
    message,
    h('label', {}, 'Admin token ', input),
    h('button', { type: 'submit', 'data-testid': 'auth-submit' }, 'Use token'),
  );
  onAuthRequired(() => {
    message.textContent =
      currentToken() === undefined
        ? 'This gateway needs its admin token (ADMIN_TOKEN) for the dashboard.'
        : 'The admin token was not accepted; it may have been rotated. Enter the current one.';
    if (form.hidden) {
      form.hidden = false;
      input.focus();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') return;
    input.value = '';
    form.hidden = true;
    // Listeners (the router, waiting streams) load again with it; a wrong one brings the form back.
    setToken(token);
  });
  return form;
}
