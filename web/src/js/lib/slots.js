// slots: the slot picker used by the booking flow and by the manage page's
// reschedule — a month view in which only the days with free slots are
// buttons, then the free times of the chosen day.
//
//   const picker = mountSlotPicker(el, {serviceId, onSelect, id, days})
//     el        the element it renders into (emptied)
//     serviceId the service whose free slots it shows (GET /api/slots)
//     onSelect  called with {start, end, free, date} when a time is chosen
//               (start/end are the API's RFC 3339 strings, date "YYYY-MM-DD")
//     id        prefix of the ids it creates ("slots": #slots-month,
//               #slots-prev, #slots-next, #slots-calendar,
//               #slots-day-2026-12-01, #slots-times, #slots-status)
//     days      how many days ahead it looks (default 90; the API allows 92)
//   picker.refresh({taken})  reloads the free slots (keeps the chosen day
//                            when it still has some); returns a promise.
//                            taken: a start the server just refused (409),
//                            hidden for a while whatever the reload says —
//                            the calendar may be up to a second stale
//                            (CALENDAR_MAX_AGE), the refusal is not
//   picker.clearSelection()  forgets the chosen time
//   picker.selected()        the chosen slot or null
//   picker.setDisabled(b)    disables every button (while a hold is made)
//   picker.destroy()
//
// Keyboard: Tab reaches the month buttons, the days and the times; in the
// calendar the arrow keys move between the days with free slots (Home/End:
// first/last of the month). Every day button has an aria-label with the full
// date and the number of free times; the chosen day and time carry
// aria-pressed="true" (not only a colour). The arithmetic — the API's
// calendar read, days grouped, months, weeks, where a key moves — is
// lib/calendar.js.
import { get } from './api.js';
import { $, $$, clear, focus, h } from './dom.js';
import { calendarDays, groupByDay, keyTarget, monthKey, monthToShow, monthWeeks, NAV_KEYS, shiftMonth } from './calendar.js';
import { addDays, dayNoon, formatDate, formatMonth, formatTime, formatTimeRange, todayRome, weekdayNames } from './format.js';
import { onLangChange, t } from './i18n.js';
import { icon } from './layout.js';
import { problemText } from './problems.js';

// How long a refused start stays hidden: well past the calendar's
// staleness, short enough that a time freed again soon shows again.
const TAKEN_FOR = 10_000;

export function mountSlotPicker(el, { serviceId, onSelect = () => {}, id = 'slots', days = 90 } = {}) {
  let byDay = new Map(); // "YYYY-MM-DD" → [slot]
  let from = todayRome();
  let to = addDays(from, days);
  let month = null; // {year, month}
  let day = null; // chosen "YYYY-MM-DD"
  let chosen = null; // chosen slot
  let disabled = false;
  let state = 'loading'; // loading | ready | error
  let error = null;
  let alive = true;
  const taken = new Map(); // instant (ms) → when the server refused it

  const status = h('div', { id: `${id}-status`, class: 'slot-status', role: 'status' });
  const monthBox = h('div', { class: 'slot-month' });
  const timesBox = h('div', { class: 'slot-times-box' });
  clear(el).append(h('div', { class: 'slot-picker', id: `${id}-picker` }, status, monthBox, timesBox));

  async function load() {
    state = 'loading';
    render();
    from = todayRome();
    to = addDays(from, days);
    try {
      const q = new URLSearchParams({ service_id: serviceId, from, to });
      const resp = await get(`/api/slots?${q}`);
      const now = Date.now();
      for (const [at, since] of taken) if (now - since > TAKEN_FOR) taken.delete(at);
      byDay = groupByDay(calendarDays(resp).map((d) => ({ date: d.date, slots: d.slots.filter((s) => !taken.has(Date.parse(s.start))) })));
      state = 'ready';
      error = null;
      if (day && !byDay.has(day)) day = null;
      if (chosen && !(byDay.get(chosen.date) || []).some((s) => s.start === chosen.start)) chosen = null;
      month = monthToShow(month, byDay, from, to);
    } catch (err) {
      state = 'error';
      error = err;
    }
    if (alive) render();
  }

  function render() {
    clear(monthBox);
    clear(timesBox);
    if (state === 'loading') {
      status.textContent = t('slots.loading');
      return;
    }
    if (state === 'error') {
      status.textContent = t('slots.error', { detail: problemText(error) });
      monthBox.append(h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', id: `${id}-retry`, text: t('slots.retry'), on: { click: () => load() } }));
      return;
    }
    if (byDay.size === 0) {
      status.textContent = t('slots.none');
      return;
    }
    status.textContent = day ? '' : t('slots.choose_day');
    renderMonth();
    renderTimes();
  }

  function renderMonth() {
    const key = monthKey(month);
    const canPrev = key > from.slice(0, 7);
    const canNext = key < to.slice(0, 7);
    const title = h('h3', { class: 'h5 mb-0 slot-month-title', id: `${id}-month`, 'aria-live': 'polite', text: formatMonth(month.year, month.month) });
    const nav = (dir, can) =>
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-outline-primary btn-sm btn-icon slot-nav',
          id: `${id}-${dir}`,
          'aria-label': t(`slots.${dir}_month`),
          disabled: !can || disabled,
          on: {
            click: () => {
              month = shiftMonth(month, dir === 'prev' ? -1 : 1);
              render();
              focus($(`#${id}-${dir}`) && !$(`#${id}-${dir}`).disabled ? $(`#${id}-${dir}`) : $(`#${id}-month`));
            },
          },
        },
        icon(dir === 'prev' ? 'it-chevron-left' : 'it-chevron-right', 'icon icon-sm icon-primary'),
      );
    monthBox.append(h('div', { class: 'slot-month-header' }, nav('prev', canPrev), title, nav('next', canNext)));

    const names = weekdayNames('short');
    const longNames = weekdayNames('long');
    const table = h('table', { class: 'slot-calendar', id: `${id}-calendar`, 'aria-labelledby': `${id}-month` });
    table.append(h('thead', {}, h('tr', {}, names.map((n, i) => h('th', { scope: 'col', abbr: longNames[i], text: n })))));
    const body = h('tbody');
    for (const week of monthWeeks(month)) {
      const row = h('tr');
      for (const date of week) row.append(dayCell(date));
      body.append(row);
    }
    table.append(body);
    monthBox.append(table);
    const count = [...byDay.keys()].filter((k) => k.startsWith(monthKey(month))).length;
    if (count === 0) monthBox.append(h('p', { class: 'slot-month-empty', text: t('slots.month_empty') }));
    // Roving tab stop: only one day button is in the tab order.
    const buttons = $$('.slot-day', table);
    const current = buttons.find((b) => b.dataset.date === day) || buttons[0];
    for (const b of buttons) b.tabIndex = b === current ? 0 : -1;
  }

  function dayCell(date) {
    if (!date) return h('td', { class: 'slot-empty' });
    const d = Number(date.slice(8));
    const slots = byDay.get(date);
    if (!slots) {
      return h(
        'td',
        { class: 'slot-off' },
        h('span', { 'aria-hidden': 'true', text: String(d) }),
        h('span', { class: 'visually-hidden', text: t('slots.day_none', { day: d }) }),
      );
    }
    return h(
      'td',
      {},
      h('button', {
        type: 'button',
        class: ['slot-day', date === day && 'selected'],
        id: `${id}-day-${date}`,
        'data-date': date,
        'aria-pressed': String(date === day),
        'aria-label': t(slots.length === 1 ? 'slots.day_label_one' : 'slots.day_label', { date: formatDate(dayNoon(date)), n: slots.length }),
        disabled,
        text: String(d),
        on: { click: () => chooseDay(date), keydown: onDayKey },
      }),
    );
  }

  function onDayKey(ev) {
    if (!NAV_KEYS.includes(ev.key)) return;
    ev.preventDefault();
    const buttons = $$('.slot-day', monthBox);
    const target = keyTarget(buttons.map((b) => b.dataset.date), ev.currentTarget.dataset.date, ev.key);
    const next = buttons.find((b) => b.dataset.date === target);
    if (!next) return;
    for (const b of buttons) b.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  function chooseDay(date) {
    day = date;
    if (chosen && chosen.date !== date) chosen = null;
    render();
    focus($(`#${id}-times-legend`) || $(`#${id}-day-${date}`));
  }

  function renderTimes() {
    if (!day) return;
    const slots = byDay.get(day) || [];
    const legend = h('legend', { id: `${id}-times-legend`, tabindex: '-1', class: 'h5', text: t('slots.times_for', { date: formatDate(dayNoon(day)) }) });
    const list = h('ul', { class: 'slot-times', id: `${id}-times-list` });
    for (const s of slots) {
      const selected = chosen && chosen.start === s.start;
      list.append(
        h(
          'li',
          {},
          h('button', {
            type: 'button',
            class: ['btn', selected ? 'btn-primary' : 'btn-outline-primary', 'slot-time'],
            id: `${id}-time-${formatTime(s.start).replace(':', '')}`,
            'data-start': s.start,
            'aria-pressed': String(!!selected),
            'aria-label': t('slots.time_label', { range: formatTimeRange(s.start, s.end) }),
            disabled,
            text: formatTime(s.start),
            on: { click: () => chooseTime(s) },
          }),
        ),
      );
    }
    timesBox.append(h('fieldset', { id: `${id}-times`, class: 'slot-times-fieldset' }, legend, list));
  }

  function chooseTime(slot) {
    chosen = slot;
    render();
    focus($(`[data-start="${slot.start}"]`, timesBox));
    onSelect({ start: slot.start, end: slot.end, free: slot.free, date: slot.date });
  }

  onLangChange(() => alive && state !== 'loading' && render());
  const ready = load();

  return {
    ready,
    refresh({ taken: start } = {}) {
      if (start) taken.set(Date.parse(start), Date.now());
      return load();
    },
    clearSelection() {
      chosen = null;
      render();
    },
    selected: () => chosen,
    setDisabled(b) {
      disabled = !!b;
      const active = document.activeElement;
      const activeId = active && el.contains(active) ? active.id : null;
      render();
      if (activeId && $(`#${activeId}`)) $(`#${activeId}`).focus();
    },
    destroy() {
      alive = false;
      clear(el);
    },
  };
}
