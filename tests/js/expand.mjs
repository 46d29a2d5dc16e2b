// Expand an iCalendar document with two independent readers, ical.js and node-ical, the way a
// calendar application does, and print every instance as JSON with its start and end in UTC.
//
//   node expand.mjs [FILE] [--from 2026-01-01T00:00:00Z] [--to 2030-01-01T00:00:00Z]
//
// FILE defaults to standard input. The output is
//   {"ical.js": [INSTANCE...], "node-ical": [INSTANCE...]}
// with INSTANCE = {"uid", "start", "end", "status", "summary", "override"} (start and end as
// ISO 8601 UTC), sorted by start. An instance is in the range when it starts in [from, to).
// ical.js reads the document's own VTIMEZONEs (and nothing else) for a TZID; node-ical maps an IANA TZID to its own zone
// data and reads the DTSTART, RRULE, EXDATE and RECURRENCE-ID rules.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";
import nodeIcal from "node-ical";

function options(argv) {
  const result = { file: null, from: "1900-01-01T00:00:00Z", to: "2200-01-01T00:00:00Z" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--from" || arg === "--to") {
      result[arg.slice(2)] = argv[++i];
    } else {
      result.file = arg;
    }
  }
  return result;
}

function instance(uid, start, end, status, summary, override) {
  return {
    uid,
    start: start.toISOString(),
    end: end.toISOString(),
    status: status ? String(status).toUpperCase() : null,
    summary: summary ?? null,
    override,
  };
}

function byStart(a, b) {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : a.uid.localeCompare(b.uid);
}

function withIcalJs(text, from, to) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const masters = new Map();
  const exceptions = [];
  for (const component of calendar.getAllSubcomponents("vevent")) {
    // Without options, ical.js relates every VEVENT of the calendar that has a RECURRENCE-ID
    // to this one, whatever its UID: two series at the same times would share their moved
    // sessions. Exceptions are related below, by UID, as a calendar application does.
    const event = new ICAL.Event(component, { exceptions: [], strictExceptions: true });
    if (event.isRecurrenceException()) {
      exceptions.push(event);
    } else {
      masters.set(event.uid, event);
    }
  }
  const orphans = [];
  for (const exception of exceptions) {
    const master = masters.get(exception.uid);
    if (master && master.isRecurring()) {
      master.relateException(exception.component);
    } else {
      orphans.push(exception); // an iTIP message for one instance carries no master
    }
  }
  const found = [];
  const keep = (uid, details, status, summary, override) => {
    const start = details.startDate.toJSDate();
    if (start >= from && start < to) {
      found.push(instance(uid, start, details.endDate.toJSDate(), status, summary, override));
    }
  };
  for (const event of masters.values()) {
    const status = event.component.getFirstPropertyValue("status");
    if (!event.isRecurring()) {
      keep(event.uid, event, status, event.summary, false);
      continue;
    }
    const iterator = event.iterator();
    for (let next = iterator.next(); next && next.toJSDate() < to; next = iterator.next()) {
      const details = event.getOccurrenceDetails(next);
      const item = details.item;
      keep(
        event.uid,
        details,
        item.component.getFirstPropertyValue("status"),
        item.summary,
        item !== event,
      );
    }
  }
  for (const event of orphans) {
    keep(event.uid, event, event.component.getFirstPropertyValue("status"), event.summary, true);
  }
  return found.sort(byStart);
}

function withNodeIcal(text, from, to) {
  const parsed = nodeIcal.sync.parseICS(text);
  const found = [];
  for (const event of Object.values(parsed)) {
    if (!event || event.type !== "VEVENT") continue;
    if (!event.rrule) {
      // A single event, or an instance on its own (an iTIP message for one occurrence).
      const items = event.start ? [event] : Object.values(event.recurrences ?? {});
      for (const item of new Set(items)) {
        if (item.start >= from && item.start < to) {
          found.push(
            instance(item.uid, item.start, item.end, item.status, item.summary, !!item.recurrenceid),
          );
        }
      }
      continue;
    }
    for (const each of nodeIcal.expandRecurringEvent(event, { from, to })) {
      if (each.start >= to) continue; // "to" is inclusive in node-ical
      found.push(
        instance(
          event.uid,
          each.start,
          each.end,
          each.event?.status ?? event.status,
          each.summary,
          !!each.isOverride,
        ),
      );
    }
  }
  return found.sort(byStart);
}

const args = options(process.argv.slice(2));
const text = readFileSync(args.file ?? 0, "utf8");
const from = new Date(args.from);
const to = new Date(args.to);
process.stdout.write(
  JSON.stringify({ "ical.js": withIcalJs(text, from, to), "node-ical": withNodeIcal(text, from, to) }),
);
process.stdout.write("\n");
