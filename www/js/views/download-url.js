// A storage's "Download from URL": the node fetches a file into the storage itself (POST
// …/download-url, a task), after the console asked it what the URL holds (GET /nodes/{node}/
// query-url-metadata: file name, size, type), as PVE's dialog does. For ISO images, container
// templates and import sources (OVA, disk images); an ISO may come compressed and be unpacked.

import { api, errorText, seg } from '../api.js';
import { h, icon, setText } from '../dom.js';
import { field, rule } from '../form.js';
import { formDialog } from '../dialog.js';
import { formatBytes } from '../format.js';
import { CONTENT_ONE, DOWNLOADABLE } from '../storage.js';

export const CHECKSUMS = [['', 'None'], ['md5', 'MD5'], ['sha1', 'SHA-1'], ['sha224', 'SHA-224'], ['sha256', 'SHA-256'], ['sha384', 'SHA-384'], ['sha512', 'SHA-512']];
const COMPRESSIONS = [['', 'None'], ['gz', 'gzip (.gz)'], ['lzo', 'LZO (.lzo)'], ['zst', 'Zstandard (.zst)'], ['bz2', 'bzip2 (.bz2)']];
const PACKED = /^(.+\.(?:iso|img))\.(gz|lzo|zst|bz2)$/i;

const endsWithOneOf = (name, exts) => exts.some((x) => name.toLowerCase().endsWith(x));
/** The content type a file name fits, among `types`. */
const contentOf = (name, types) => types.find((c) => endsWithOneOf(name, DOWNLOADABLE[c] || []));

/**
 * Ask for a URL and have `node` download it into `storage`; `types`: the downloadable content types the
 * storage holds. Resolves to {upid, filename} once the task started, or null when cancelled.
 */
export async function downloadUrlDialog({ node, storage, types, signal }) {
  const url = rule(field({ label: 'URL', name: 'url', required: true, wide: true, placeholder: 'https://example.org/debian-12.iso', inputmode: 'url' }),
    (v) => (/^https?:\/\/\S+$/.test(v) ? null : 'Give an http:// or https:// URL.'));
  const query = h('button', { type: 'button', class: 'btn btn-small', onclick: () => ask() }, icon('search'), 'Query URL');
  const found = h('p', { class: 'field-hint', 'aria-live': 'polite' }, 'Query the URL to learn its file name and size.');
  const content = field({ label: 'Content', name: 'content', type: 'select', options: types.map((c) => [c, CONTENT_ONE[c] || c]), value: types[0] });
  const filename = rule(field({ label: 'File name', name: 'filename', required: true, placeholder: 'debian-12.iso' }),
    (v) => {
      const exts = DOWNLOADABLE[content.get()] || [];
      return endsWithOneOf(v, exts) ? null : `${CONTENT_ONE[content.get()] || content.get()} names end in ${exts.join(', ')}.`;
    });
  const verify = field({ label: 'Verify the server\'s certificate', name: 'verify-certificates', type: 'checkbox', value: true,
    hint: 'Untick only for a server you trust whose certificate cannot be checked.' });
  const algo = field({ label: 'Checksum algorithm', name: 'checksum-algorithm', type: 'select', options: CHECKSUMS, value: '' });
  const sum = field({ label: 'Checksum', name: 'checksum', placeholder: 'optional', hint: 'Checked by the node before the file is stored.' });
  const compression = field({ label: 'Decompress', name: 'compression', type: 'select', options: COMPRESSIONS, value: '',
    hint: 'For an ISO image published compressed: it is stored unpacked.' });
  const syncContent = () => { compression.el.hidden = content.get() !== 'iso'; filename.recheck(); };
  content.input.addEventListener('change', syncContent);
  syncContent();
  // A name the user typed is kept; one the query filled follows the next query.
  let named = false;
  filename.input.addEventListener('input', () => { named = filename.get() !== ''; });
  url.input.addEventListener('change', () => { if (!url.input.validity.customError && url.get()) ask(); });

  let seq = 0;
  let asked = null; // what was last asked (leaving the field and pressing the button ask once)
  async function ask() {
    if (!url.get() || url.input.validity.customError) { url.setError(url.input.validationMessage || 'Give the URL first.'); return; }
    const key = `${verify.get()} ${url.get()}`;
    if (key === asked) return;
    asked = key;
    const my = ++seq;
    url.setError(null);
    setText(found, 'Asking the node what the URL holds…');
    try {
      const meta = await api(`/nodes/${seg(node)}/query-url-metadata`,
        { params: { url: url.get(), 'verify-certificates': verify.get() ? undefined : 0 }, signal }) || {};
      if (my !== seq) return;
      setText(found, [meta.size ? formatBytes(meta.size) : 'Size unknown', meta.mimetype].filter(Boolean).join(' · '));
      if (meta.filename && !named) {
        const packed = PACKED.exec(meta.filename);
        const name = packed && types.includes('iso') ? packed[1] : meta.filename;
        const kind = contentOf(name, types);
        if (kind) content.set(kind);
        compression.set(packed && kind === 'iso' ? packed[2].toLowerCase() : '');
        filename.set(name);
        syncContent();
      }
    } catch (e) {
      if (my !== seq || e.name === 'AbortError') return;
      asked = null;
      setText(found, '');
      url.setError(`Could not query it: ${errorText(e)}`);
    }
  }

  const fields = [url, content, filename, verify, algo, sum, compression];
  let started = null;
  const done = await formDialog({
    title: `Download to ${storage}`, fields, submitLabel: 'Download', className: 'download-dialog',
    intro: `The node ${node} downloads the file itself; the download runs as a task.`,
    body: h('div', { class: 'form-grid' }, url.el, h('div', { class: 'field-wide url-query' }, query, found),
      content.el, filename.el, algo.el, sum.el, compression.el, verify.el),
    onSubmit: async (_, { setStatus }) => {
      const body = { url: url.get(), content: content.get(), filename: filename.get() };
      if (sum.get()) {
        body.checksum = sum.get();
        body['checksum-algorithm'] = algo.get() || 'sha256';
      }
      if (!verify.get()) body['verify-certificates'] = 0;
      if (!compression.el.hidden && compression.get()) body.compression = compression.get();
      setStatus('Starting the download…');
      started = { upid: await api(`/nodes/${seg(node)}/storage/${seg(storage)}/download-url`, { method: 'POST', body, signal }), filename: body.filename };
    },
  });
  return done ? started : null;
}
