// The administration's services: the list (filtered by office; edit,
// deactivate or reactivate: deactivating strands the service's bookings,
// ./stranded.js), the form to create one or edit the one chosen, and for
// that one its weekly hours (./hours.js) and desks (./desks.js). Its
// waiting-room admission rate left empty is null: no waiting room of its own.
import { $, clear, focus, h } from '../../lib/dom.js';
import { t } from '../../lib/i18n.js';
import { desksEditor } from './desks.js';
import { hoursEditor } from './hours.js';
import { A, actions, button, call, data, entityForm, message, officeName, reload, row, stateText, table, taken, toggle } from './common.js';
import { change, setActive } from './stranded.js';

let editing = null; // the id of the service being edited

const fields = (editing) => [
  { name: 'id', label: 'admin.services.id', required: true, hint: 'admin.id_hint', disabled: editing },
  { name: 'office_id', label: 'admin.services.office', type: 'select', required: true, options: data.offices.map((o) => [o.id, o.name]), disabled: editing },
  { name: 'name', label: 'admin.services.name', required: true },
  { name: 'duration_minutes', label: 'admin.services.duration', type: 'number', required: true, min: 5, max: 480 },
  { name: 'buffer_minutes', label: 'admin.services.buffer', type: 'number', min: 0, max: 240 },
  { name: 'min_notice_minutes', label: 'admin.services.notice', type: 'number', min: 0, max: 43200 },
  { name: 'horizon_days', label: 'admin.services.horizon', type: 'number', min: 1, max: 366 },
  { name: 'cancel_cutoff_minutes', label: 'admin.services.cutoff', type: 'number', min: 0, max: 43200 },
  { name: 'admission_per_minute', label: 'admin.services.admission', hint: 'admin.services.admission_hint', type: 'number', min: 1, max: 100000, nullable: true },
  { name: 'position', label: 'admin.position', type: 'number' },
  { name: 'open_on_holidays', label: 'admin.services.holidays', type: 'checkbox' },
  { name: 'description', label: 'admin.services.description', type: 'textarea', col: 'col-12' },
  { name: 'what_to_bring', label: 'admin.services.what_to_bring', type: 'textarea', col: 'col-12' },
];

const path = (s) => `${A}/services/${encodeURIComponent(s.id)}`;

function edit(id) {
  editing = id;
  render();
  focus($('#service-form-title'));
}

async function save(s, body) {
  if (s) {
    await change('PATCH', path(s), body, {
      back: '#service-form-title',
      onDone: async () => {
        await reload('services');
        render();
        message(t('admin.services.saved', { name: body.name }));
      },
    });
    return;
  }
  await call('POST', `${A}/services`, body);
  await reload('services');
  editing = body.id;
  render();
  message(t('admin.services.created', { name: body.name }));
  focus($('#hours-form-title'));
}

function renderFilter() {
  const sel = $('#services-filter');
  const cur = sel.value;
  clear(sel).append(h('option', { value: '', text: t('admin.services.all_offices') }), ...data.offices.map((o) => h('option', { value: o.id, text: o.name, selected: o.id === cur })));
}

export function render() {
  renderFilter();
  const office = $('#services-filter').value;
  const rows = data.services
    .filter((s) => !office || s.office_id === office)
    .map((s) =>
      row(
        `service-row-${s.id}`,
        s.id,
        s.name,
        officeName(s.office_id),
        t('admin.services.minutes', { n: s.duration_minutes }),
        String((s.desks || []).filter((d) => d.active).length),
        stateText(s.active),
        actions(button(`service-edit-${s.id}`, t('admin.services.edit'), t('admin.services.edit_label', { name: s.name }), () => edit(s.id)), toggle(`service-toggle-${s.id}`, s.name, s.active, () => setActive('service', s, s.name, { path: path(s), lists: ['services'], render }))),
      ),
    );
  clear($('#services-list')).append(
    table(
      'services-table',
      'admin.services.caption',
      ['admin.services.id', 'admin.services.name', 'admin.services.office', 'admin.services.duration_short', 'admin.services.desks_count', 'admin.state', 'admin.actions'],
      rows,
    ),
  );
  const s = editing ? data.services.find((x) => x.id === editing) : null;
  const defaults = { office_id: office || data.offices[0]?.id, duration_minutes: 30, buffer_minutes: 0, min_notice_minutes: 120, horizon_days: 60, cancel_cutoff_minutes: 120, position: 0 };
  clear($('#service-form-box')).append(
    entityForm({
      prefix: 'service',
      title: s ? t('admin.services.edit_title', { name: s.name }) : t('admin.services.create_title'),
      fields: fields(!!s),
      values: s || defaults,
      submit: s ? t('admin.save') : t('admin.services.create'),
      onCancel: s ? () => edit(null) : null,
      onSubmit: (body) => save(s, body),
      onError: (err) => !s && err?.code === 'conflict' && taken($('#service-id'), 'admin.id_taken'),
    }),
  );
  const extra = clear($('#service-extra'));
  if (s) extra.append(hoursEditor(s, render), desksEditor(s, render));
}

$('#services-filter').addEventListener('change', render);
