/**
 * The flight recorder of one charger: switched on for a bounded time and frame count, its frames shown in the
 * page and downloaded as JSON Lines. The frames stay downloadable for a while after the charger disconnects,
 * so this panel works on the page of a charger that is gone.
 */
import { ApiError, apiFetch, chargerPath, getJson, sendJson } from './api';
import { type Dispose, fill, h } from './dom';
import { bytes, count, dateTime } from './format';
import type { RecordedFrame, RecordingStatus } from './types';

type Recording = RecordingStatus & { items: RecordedFrame[] };

const POLL_MS = 2000;
/** Rows drawn at most; the download has every frame. */
const SHOWN_FRAMES = 500;
/** Characters of one frame drawn in the table. */
const SHOWN_CHARS = 2000;

export function recorderPanel(chargerId: string): { element: HTMLElement; dispose: Dispose } {
  const duration = h('input', { type: 'number', min: 1, max: 3600, value: 600, 'aria-label': 'Duration in seconds', 'data-testid': 'recorder-duration' });
  const maxFrames = h('input', { type: 'number', min: 1, max: 5000, value: 1000, 'aria-label': 'Frames at most', 'data-testid': 'recorder-max-frames' });
  const start = h('button', { type: 'submit', 'data-testid': 'recorder-start' }, 'Start recording');
  const stop = h('button', { type: 'button', 'data-testid': 'recorder-stop', hidden: true }, 'Stop');
  const download = h('button', { type: 'button', 'data-testid': 'recorder-download', hidden: true }, 'Download .jsonl');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const status = h('p', { class: 'muted', 'data-testid': 'recorder-status', 'aria-live': 'polite' }, 'loading…');
  const frames = h('div', { class: 'frames' });
  const form = h(
    'form',
    { class: 'recorder-controls' },
    h('label', {}, 'for (s) ', duration),
    h('label', {}, 'frames at most ', maxFrames),
    start,
    stop,
    download,
    refresh,
  );
  const element = h('div', { class: 'recorder' }, form, status, frames);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  let shownFrames = -1;

  const show = (recording: Recording | undefined, note?: string) => {
    if (recording === undefined) {
      status.textContent = note ?? 'No recording for this charger.';
      stop.hidden = true;
      download.hidden = true;
      fill(frames);
      shownFrames = -1;
      return;
    }
    const when = recording.active ? `Recording until ${dateTime(recording.until)}` : `Stopped ${dateTime(recording.stoppedAt ?? recording.until)}`;
    const dropped = recording.droppedFrames > 0 ? `, ${count(recording.droppedFrames)} dropped (frame limit)` : '';
    status.textContent = `${when} · started ${dateTime(recording.startedAt)} · ${count(recording.frames)} of at most ${count(recording.maxFrames)} frames${dropped} · ${bytes(recording.bytes)}${recording.instance ? ` · on ${recording.instance}` : ''}`;
    status.dataset.active = String(recording.active);
    stop.hidden = !recording.active;
    download.hidden = recording.frames === 0;
    // Redraw only when something changed: the table can hold hundreds of rows.
    if (recording.frames + recording.droppedFrames !== shownFrames) {
      shownFrames = recording.frames + recording.droppedFrames;
      fill(frames, frameTable(recording.items));
    }
  };

  const schedule = (active: boolean) => {
    clearTimeout(timer);
    if (active && !disposed) timer = setTimeout(() => void load(), POLL_MS);
  };

  const load = async () => {
    try {
      const recording = await getJson<Recording>(chargerPath(chargerId, '/recording'));
      if (disposed) return;
      show(recording);
      schedule(recording.active);
    } catch (err) {
      if (disposed) return;
      if (err instanceof ApiError && err.code === 'NOT_RECORDING') show(undefined);
      else if (!(err instanceof ApiError && err.status === 401)) show(undefined, `The recording did not load: ${(err as Error).message}`);
      schedule(false);
    }
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    start.disabled = true;
    try {
      await sendJson<RecordingStatus>('PUT', chargerPath(chargerId, '/recording'), {
        durationSeconds: duration.valueAsNumber,
        maxFrames: maxFrames.valueAsNumber,
      });
      shownFrames = -1;
      await load();
    } catch (err) {
      status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
    } finally {
      start.disabled = false;
    }
  });
  stop.addEventListener('click', async () => {
    try {
      await sendJson<RecordingStatus>('DELETE', chargerPath(chargerId, '/recording'));
      await load();
    } catch (err) {
      status.textContent = err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
    }
  });
  refresh.addEventListener('click', () => void load());
  download.addEventListener('click', () => void saveFrames(chargerId).catch((err: Error) => (status.textContent = `The download failed: ${err.message}`)));

  void load();
  return {
    element,
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The download carries the bearer token, so it cannot be a plain link: the file is fetched, then handed to the
 * browser as a blob under the name the server gave it.
 */
async function saveFrames(chargerId: string): Promise<void> {
  const res = await apiFetch(chargerPath(chargerId, '/recording.jsonl'), { headers: { accept: 'application/x-ndjson' } });
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${chargerId}-frames.jsonl`;
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function frameTable(items: RecordedFrame[]): HTMLElement {
  const shown = items.slice(-SHOWN_FRAMES);
  return h(
    'div',
    {},
    items.length > shown.length ? h('p', { class: 'muted' }, `The last ${shown.length} of ${items.length} frames; the download has them all.`) : null,
    h(
      'table',
      { class: 'data frames-table', 'data-testid': 'recorder-frames' },
      h('thead', {}, h('tr', {}, h('th', {}, 'time (UTC)'), h('th', {}, 'direction'), h('th', {}, 'bytes'), h('th', {}, 'frame'))),
      h(
        'tbody',
        {},
        ...shown.map((f) =>
          h(
            'tr',
            { 'data-direction': f.direction },
            h('td', { class: 'nowrap' }, f.at.slice(11, 23)),
            h('td', {}, f.direction === 'in' ? 'charger → gateway' : 'gateway → charger'),
            h('td', { class: 'num' }, count(f.size)),
            h(
              'td',
              {},
              h('code', { class: 'frame' }, f.frame.length > SHOWN_CHARS ? `${f.frame.slice(0, SHOWN_CHARS)}…` : f.frame),
              f.truncated ? h('span', { class: 'muted' }, ' (cut by the recorder)') : null,
            ),
          ),
        ),
      ),
    ),
  );
}
