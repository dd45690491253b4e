// Node → Storage → one storage: its volumes (GET …/storage/{id}/content,
// filtered by content type), uploads of ISO images and container templates
// (POST …/upload as multipart/form-data, with progress, then the task that
// stores the file), and deleting a volume (DELETE …/content/{volume}).

import { api, seg, errorText } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot, meter, nextId } from '../ui.js';
import { formatBytes, formatTimestamp, taskStatusKind } from '../format.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { navigate } from '../router.js';
import { taskFeedback, isUpid, waitTask, TaskFailed } from '../taskrun.js';
import { uploadForm } from '../upload.js';
import { BROWSABLE, CONTENT_LABELS, CONTENT_ONE, UPLOADABLE, listContent, splitContent, volName } from '../storage.js';
import { usageCell } from './node-storage.js';

const CHECKSUMS = [['', 'None'], ['md5', 'MD5'], ['sha1', 'SHA-1'], ['sha224', 'SHA-224'], ['sha256', 'SHA-256'], ['sha384', 'SHA-384'], ['sha512', 'SHA-512']];

export function mountStorageContent(panel, node, id) {
  const ctrl = new AbortController();
  const signal = ctrl.signal;
  const base = `/nodes/${seg(node)}/storage/${seg(id)}`;
  const err = errorSlot(`Could not load storage ${id}`);
  const feedback = taskFeedback({ signal });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const filter = field({ label: 'Show', name: 'content', type: 'select', options: [['', 'All content']], value: '' });
  const uploadBtn = h('button', { type: 'button', class: 'btn btn-primary', hidden: true, onclick: upload }, icon('arrow-up'), 'Upload');
  const usage = h('div', { class: 'storage-usage' });
  const tbody = h('tbody');
  let status = null;

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
      h('button', { type: 'button', class: 'link', onclick: () => navigate(`node/${node}`, 'storage') }, '← All storages'),
      h('h2', { class: 'panel-title' }, icon('disk'), `Storage ${id}`),
      h('div', { class: 'actions' }, uploadBtn,
        h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el,
    h('div', { class: 'storage-head' }, h('div', { class: 'storage-filter' }, filter.el), usage, count),
    h('section', { class: 'card card-flush', 'aria-label': `Content of ${id}` }, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid content-grid' },
        h('caption', { class: 'sr-only' }, `Volumes on ${id}`),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col', class: 'optional' }, 'Format'),
          h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col', class: 'optional' }, 'Guest'), h('th', { scope: 'col', class: 'optional' }, 'Created'),
          h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        tbody))));
  filter.input.addEventListener('change', () => refresh());

  async function loadStatus() {
    status = await api(`${base}/status`, { signal });
    const types = splitContent(status.content).filter((c) => BROWSABLE.includes(c) || c === 'rootdir');
    filter.setOptions([['', 'All content'], ...types.filter((c) => c !== 'rootdir').map((c) => [c, CONTENT_LABELS[c] || c])]);
    uploadBtn.hidden = !types.some((c) => UPLOADABLE[c]);
    usage.replaceChildren(h('span', { class: 'field-label' }, 'Usage'), usageCell(status, 'div'));
  }

  async function refresh() {
    try {
      if (!status) await loadStatus();
      const vols = await listContent(node, id, filter.get() || undefined, { signal });
      const rows = vols.map((v) => h('tr', { dataset: { volid: v.volid } },
        h('th', { scope: 'row', class: 'vol-name' }, volName(v.volid)),
        h('td', null, CONTENT_ONE[v.content] || v.content || '–'),
        h('td', { class: 'optional' }, v.format || '–'),
        h('td', null, formatBytes(v.size)),
        h('td', { class: 'optional' }, v.vmid ? String(v.vmid) : '–'),
        h('td', { class: 'optional' }, v.ctime ? formatTimestamp(v.ctime) : '–'),
        h('td', { class: 'row-actions' }, h('button', {
          type: 'button', class: 'btn btn-small', onclick: () => remove(v), 'aria-label': `Delete ${volName(v.volid)}`,
        }, icon('trash'), h('span', { class: 'btn-label' }, 'Delete')))));
      tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'Nothing here yet.'))]));
      setText(count, `${rows.length} volume${rows.length === 1 ? '' : 's'}`);
      err.set(null);
    } catch (e) {
      if (e.name !== 'AbortError') err.set(e);
    }
  }

  async function remove(v) {
    const ok = await confirmDialog({
      title: `Delete ${volName(v.volid)}?`,
      message: `The volume ${v.volid} is removed from storage ${id}. This cannot be undone.`,
      confirmLabel: 'Delete', danger: true,
    });
    if (!ok) return;
    try {
      await feedback.run(`Delete ${volName(v.volid)}`, () => api(`${base}/content/${seg(v.volid)}`, { method: 'DELETE', signal }));
    } catch (e) {
      console.debug('delete failed:', e);
    }
    refresh();
  }

  function upload() {
    const types = splitContent(status?.content).filter((c) => UPLOADABLE[c]);
    const content = field({ label: 'Content', name: 'content', type: 'select', options: types.map((c) => [c, CONTENT_LABELS[c]]), value: types[0] });
    const file = field({ label: 'File', name: 'filename', type: 'file', required: true, wide: true });
    const algo = field({ label: 'Checksum algorithm', name: 'checksum-algorithm', type: 'select', options: CHECKSUMS, value: '' });
    const sum = field({ label: 'Checksum', name: 'checksum', placeholder: 'optional', hint: 'Verified by the server before the file is stored.' });
    const progressId = nextId('up');
    const bar = meter(progressId);
    const progressText = h('span', { id: progressId, class: 'small muted' }, '');
    const progress = h('div', { class: 'upload-progress field-wide', hidden: true }, bar.el, progressText);
    const accept = () => { file.input.accept = (UPLOADABLE[content.get()] || []).join(','); };
    content.input.addEventListener('change', accept);
    accept();
    const fields = [content, file, algo, sum];
    return formDialog({
      title: `Upload to ${id}`, fields, submitLabel: 'Upload', className: 'upload-dialog',
      body: h('div', { class: 'form-grid' }, fields.map((f) => f.el), progress),
      onSubmit: async (_, { setStatus }) => {
        const f = file.input.files[0];
        const form = new FormData();
        form.append('content', content.get());
        if (sum.get()) {
          form.append('checksum', sum.get());
          form.append('checksum-algorithm', algo.get() || 'sha256');
        }
        form.append('filename', f, f.name);
        progress.hidden = false;
        const upid = await uploadForm(`${base}/upload`, form, {
          signal,
          onProgress: (sent, total) => {
            bar.update(sent / total, `${formatBytes(sent)} of ${formatBytes(total)}`);
            setText(progressText, `${Math.floor((sent / total) * 100)}% — ${formatBytes(sent)} of ${formatBytes(total)}`);
            setStatus('Uploading…');
          },
        });
        if (isUpid(upid)) {
          setStatus('Storing the file…');
          const exit = await waitTask(upid, { signal });
          if (taskStatusKind(exit) === 'error') throw new TaskFailed(upid, exit);
        }
        feedback.run(`Upload ${f.name}`, async () => upid).catch(() => {});
        refresh();
      },
    }).catch((e) => err.set(new Error(errorText(e))));
  }

  refresh();
  return () => ctrl.abort();
}
