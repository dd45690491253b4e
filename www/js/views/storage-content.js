// Node → Storage → one storage: its volumes (GET …/storage/{id}/content,
// filtered by content type: ISO images, container templates, disk images,
// container volumes, backups, snippets, import sources), uploads of ISO images
// and container templates (POST …/upload as multipart/form-data, with
// progress, then the task that stores the file), downloads from a URL
// (download-url.js), a backup's notes and protection (PUT …/content/{volume}),
// restoring a backup as a new guest (backup-restore.js) and deleting a volume
// (DELETE …/content/{volume}). A deduplicating backup store (type dedup, as
// …/status says) also offers garbage collection (POST …/gc), verifying every
// chunk (POST …/verify) and a backup's export as a vzdump archive onto another
// storage (POST …/export-backup). Below the list, the storage's usage history
// (rrd-graphs.js).

import { api, seg, errorText } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { errorSlot, meter, nextId } from '../ui.js';
import { formatBytes, formatTimestamp, taskStatusKind } from '../format.js';
import { field } from '../form.js';
import { confirmDialog, formDialog } from '../dialog.js';
import { navigate } from '../router.js';
import { taskFeedback, isUpid, waitTask, TaskFailed } from '../taskrun.js';
import { uploadForm } from '../upload.js';
import { BROWSABLE, CONTENT_LABELS, CONTENT_ONE, DOWNLOADABLE, UPLOADABLE, listContent, splitContent, volName } from '../storage.js';
import { usageCell } from './node-storage.js';
import { CHECKSUMS, downloadUrlDialog } from './download-url.js';
import { rowButton } from './access-common.js';
import { exportBackup, restoreBackup } from './backup-restore.js';
import { storageGraphs } from './rrd-graphs.js';

export function mountStorageContent(panel, node, id) {
  const ctrl = new AbortController();
  const signal = ctrl.signal;
  const base = `/nodes/${seg(node)}/storage/${seg(id)}`;
  const err = errorSlot(`Could not load storage ${id}`);
  const feedback = taskFeedback({ signal });
  const count = h('p', { class: 'muted small', 'aria-live': 'polite' }, 'Loading…');
  const filter = field({ label: 'Show', name: 'content', type: 'select', options: [['', 'All content']], value: '' });
  const uploadBtn = h('button', { type: 'button', class: 'btn btn-primary', hidden: true, onclick: upload }, icon('arrow-up'), 'Upload');
  const downloadBtn = h('button', { type: 'button', class: 'btn', hidden: true, dataset: { action: 'download-url' }, onclick: download },
    icon('arrow-down'), 'Download from URL');
  const gcBtn = h('button', { type: 'button', class: 'btn', hidden: true, dataset: { action: 'gc' }, onclick: () => storeTask('gc') },
    icon('trash'), 'Garbage collect');
  const verifyBtn = h('button', { type: 'button', class: 'btn', hidden: true, dataset: { action: 'verify' }, onclick: () => storeTask('verify') },
    icon('check'), 'Verify');
  const usage = h('div', { class: 'storage-usage' });
  const notesHead = h('th', { scope: 'col', class: 'optional', hidden: true }, 'Notes');
  const tbody = h('tbody');
  const graphs = storageGraphs(node, id);
  let status = null;

  panel.append(
    h('div', { class: 'panel-toolbar panel-toolbar-wrap' },
      h('button', { type: 'button', class: 'link', onclick: () => navigate(`node/${node}`, 'storage') }, '← All storages'),
      h('h2', { class: 'panel-title' }, icon('disk'), `Storage ${id}`),
      h('div', { class: 'actions' }, uploadBtn, downloadBtn, gcBtn, verifyBtn,
        h('button', { type: 'button', class: 'btn', onclick: () => refresh() }, icon('refresh'), 'Reload'))),
    feedback.el, err.el,
    h('div', { class: 'storage-head' }, h('div', { class: 'storage-filter' }, filter.el), usage, count),
    h('section', { class: 'card card-flush', 'aria-label': `Content of ${id}` }, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid content-grid' },
        h('caption', { class: 'sr-only' }, `Volumes on ${id}`),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Type'), notesHead, h('th', { scope: 'col', class: 'optional' }, 'Format'),
          h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col', class: 'optional' }, 'Guest'), h('th', { scope: 'col', class: 'optional' }, 'Created'),
          h('th', { scope: 'col', class: 'actions-col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        tbody))),
    graphs.el);
  filter.input.addEventListener('change', () => refresh());

  const holds = () => splitContent(status?.content);
  const dedup = () => status?.type === 'dedup';

  async function loadStatus() {
    status = await api(`${base}/status`, { signal });
    const types = BROWSABLE.filter((c) => holds().includes(c));
    filter.setOptions([['', 'All content'], ...types.map((c) => [c, CONTENT_LABELS[c] || c])]);
    uploadBtn.hidden = !types.some((c) => UPLOADABLE[c]);
    downloadBtn.hidden = !types.some((c) => DOWNLOADABLE[c]);
    gcBtn.hidden = verifyBtn.hidden = !dedup();
    usage.replaceChildren(h('span', { class: 'field-label' }, 'Usage'), usageCell(status, 'div'));
  }

  function row(v, notes) {
    const name = volName(v.volid);
    const backup = v.content === 'backup';
    const locked = backup && Number(v.protected) === 1;
    const del = rowButton('Delete', 'trash', () => remove(v), `Delete ${name}`);
    if (locked) Object.assign(del, { disabled: true, title: 'A protected backup cannot be deleted.' });
    return h('tr', { dataset: locked ? { volid: v.volid, protected: '1' } : { volid: v.volid } },
      h('th', { scope: 'row', class: 'vol-name' }, name, locked ? icon('lock', { cls: 'vol-lock', label: 'Protected' }) : null),
      h('td', null, CONTENT_ONE[v.content] || v.content || '–'),
      notes ? h('td', { class: 'optional vol-notes' }, backup && v.notes ? v.notes : '') : null,
      h('td', { class: 'optional' }, v.format || '–'),
      h('td', null, formatBytes(v.size)),
      h('td', { class: 'optional' }, v.vmid ? String(v.vmid) : '–'),
      h('td', { class: 'optional' }, v.ctime ? formatTimestamp(v.ctime) : '–'),
      h('td', { class: 'row-actions' },
        backup ? rowButton('Restore', 'undo', () => restore(v), `Restore ${name}`) : null,
        backup ? rowButton('Notes', 'edit', () => editNotes(v), `Edit the notes of ${name}`) : null,
        backup ? rowButton(locked ? 'Unprotect' : 'Protect', 'lock', () => protect(v, !locked), `${locked ? 'Unprotect' : 'Protect'} ${name}`) : null,
        backup && dedup() ? rowButton('Export', 'copy', () => exportOne(v), `Export ${name} as a vzdump archive`) : null,
        del));
  }

  async function refresh() {
    try {
      if (!status) await loadStatus();
      const vols = await listContent(node, id, filter.get() || undefined, { signal });
      // Notes belong to backups: their column shows only where backups are listed.
      const notes = vols.some((v) => v.content === 'backup');
      notesHead.hidden = !notes;
      const rows = vols.map((v) => row(v, notes));
      tbody.replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: notes ? 8 : 7, class: 'empty' }, 'Nothing here yet.'))]));
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

  async function restore(v) {
    const how = await restoreBackup({ node, v, signal });
    if (!how) return;
    try {
      await feedback.run(`Restore ${volName(v.volid)} as ${how.type === 'lxc' ? 'CT' : 'VM'} ${how.vmid}`, how.start);
    } catch (e) {
      console.debug('restore failed:', e);
    }
    refresh(); // the restored guest's disks may land here
  }

  async function editNotes(v) {
    // The list carries the first line only; the volume's own attributes the whole text.
    let text = v.notes || '';
    try {
      const attrs = await api(`${base}/content/${seg(v.volid)}`, { signal });
      if (attrs && typeof attrs.notes === 'string') text = attrs.notes;
    } catch (e) {
      if (e.name === 'AbortError') return;
      console.debug('volume attributes:', errorText(e));
    }
    const notes = field({ label: 'Notes', name: 'notes', type: 'textarea', rows: 6, wide: true, value: text });
    const saved = await formDialog({
      title: `Notes of ${volName(v.volid)}`, fields: [notes], submitLabel: 'Save', className: 'dialog-wide',
      onSubmit: () => api(`${base}/content/${seg(v.volid)}`, { method: 'PUT', body: { notes: notes.get() }, signal }),
    });
    if (saved) refresh();
  }

  async function protect(v, on) {
    try {
      await feedback.run(`${on ? 'Protect' : 'Unprotect'} ${volName(v.volid)}`,
        () => api(`${base}/content/${seg(v.volid)}`, { method: 'PUT', body: { protected: on ? 1 : 0 }, signal }));
    } catch (e) {
      console.debug('protect failed:', e);
    }
    refresh();
  }

  /** The store's garbage collection or verification, one at a time: the server refuses a collection while a verify reads the store. */
  async function storeTask(what) {
    gcBtn.disabled = verifyBtn.disabled = true;
    try {
      await feedback.run(what === 'gc' ? `Garbage collection on ${id}` : `Verify ${id}`,
        () => api(`${base}/${what}`, { method: 'POST', signal }));
    } catch (e) {
      console.debug(`${what} failed:`, e);
    } finally {
      gcBtn.disabled = verifyBtn.disabled = false;
    }
    // A collection frees space: the usage is read again.
    if (what === 'gc' && !signal.aborted) {
      status = null;
      refresh();
    }
  }

  async function exportOne(v) {
    const upid = await exportBackup({ node, storage: id, v, signal });
    if (!upid) return;
    // The archive lands on another storage: this list stays as it is.
    feedback.run(`Export ${volName(v.volid)}`, async () => upid).catch((e) => console.debug('export failed:', e));
  }

  async function download() {
    const types = holds().filter((c) => DOWNLOADABLE[c]);
    const started = await downloadUrlDialog({ node, storage: id, types, signal });
    if (!started) return;
    // The task line follows the download and offers its log; the list changes when it ends.
    feedback.run(`Download ${started.filename}`, async () => started.upid).catch(() => {}).finally(() => refresh());
  }

  function upload() {
    const types = holds().filter((c) => UPLOADABLE[c]);
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
  return () => { ctrl.abort(); graphs.stop(); };
}
