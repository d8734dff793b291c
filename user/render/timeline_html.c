/* user/render/timeline_html.c: --timeline-html FILE: one self-contained page
 * (no network: the data and the script are inline) with a lane per core,
 * coloured by the process and thread that ran there (untraced tasks grey),
 * and a lane per traced thread showing running, runnable (waiting for a
 * core), blocked on a lock and other blocking. Wheel zooms, drag pans,
 * hovering names the span; the report's verdict is at the top. The data is
 * JSON in a script element; the drawing is a canvas. */
#include "render/timeline.h"
#include "model/timeline.h"
#include "render/json.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void html_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else
			fputc(*s, out);
	}
}

/* Spans as [start_us, end_us, id, state] with times from t0. */
static void spans_json(struct json *j, const struct tl_span *sp, size_t n, uint64_t t0, bool core)
{
	json_array_begin(j);
	for (size_t i = 0; i < n; i++) {
		json_array_begin(j);
		json_double(j, (double)(sp[i].start - t0) / 1000.0);
		json_double(j, (double)(sp[i].end - t0) / 1000.0);
		json_u64(j, core ? sp[i].tid : sp[i].tid /* the CPU */);
		json_u64(j, core ? 0 : sp[i].state);
		json_array_end(j);
	}
	json_array_end(j);
}

static const char *lock_caller(const struct model *m, uint32_t tgid, uint64_t uaddr)
{
	for (uint32_t i = 0; i < m->nlocks; i++)
		for (uint32_t a = 0; a < m->locks[i].naddrs; a++)
			if (m->locks[i].tgid == tgid && m->locks[i].addrs[a] == uaddr)
				return m->locks[i].caller;
	return NULL;
}

static bool is_traced(const struct model *m, uint32_t tid)
{
	for (uint32_t i = 0; i < m->nthreads; i++)
		if (m->threads[i].tid == tid && !m->threads[i].folded)
			return true;
	return false;
}

static void write_data(FILE *out, const struct model *m, const struct diagnosis *d,
		       const struct report_opts *ro, const struct timeline *tl)
{
	struct json j;

	json_init(&j, out, false);
	json_object_begin(&j);
	json_kv_string(&j, "title", ro && ro->title ? ro->title : "trace");
	json_kv_string(&j, "verdict", d->label);
	json_kv_string(&j, "confidence", diagnose_confidence_word(d->confidence));
	json_kv_string(&j, "text", d->text);
	json_kv_double(&j, "span_us", (double)(tl->t1 - tl->t0) / 1000.0);
	json_kv_u64(&j, "records", tl->records);
	json_key(&j, "lost");
	json_array_begin(&j);
	for (int c = 0; c < tl->nr_cpus; c++)
		json_u64(&j, tl->cores[c].lost);
	json_array_end(&j);
	json_kv_u64(&j, "over", tl->over);
	json_key(&j, "tasks");
	json_object_begin(&j);
	for (size_t i = 0; i < tl->ntasks; i++) {
		char key[16];

		snprintf(key, sizeof(key), "%u", tl->tasks[i].tid);
		json_key(&j, key);
		json_array_begin(&j);
		json_string(&j, tl->tasks[i].comm);
		json_u64(&j, tl->tasks[i].tgid);
		json_bool(&j, is_traced(m, tl->tasks[i].tid));
		json_array_end(&j);
	}
	json_object_end(&j);
	json_key(&j, "cores");
	json_array_begin(&j);
	for (int c = 0; c < tl->nr_cpus; c++)
		spans_json(&j, tl->cores[c].spans, tl->cores[c].n, tl->t0, true);
	json_array_end(&j);
	json_key(&j, "threads");
	json_array_begin(&j);
	for (size_t i = 0; i < tl->nthreads; i++) {
		const struct tl_thread *t = &tl->threads[i];

		json_object_begin(&j);
		json_kv_u64(&j, "tid", t->tid);
		json_kv_u64(&j, "tgid", t->tgid);
		json_kv_string(&j, "comm", t->comm);
		json_key(&j, "spans");
		spans_json(&j, t->spans, t->n, tl->t0, false);
		/* the lock each lock span waited on, by the report's name */
		json_key(&j, "locks");
		json_array_begin(&j);
		for (size_t k = 0; k < t->n; k++) {
			const char *c = t->spans[k].state == TL_LOCK ?
					lock_caller(m, t->tgid, t->spans[k].uaddr) : NULL;

			if (c)
				json_string(&j, c);
			else
				json_null(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
}

static const char page_head[] =
"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<title>poolscope timeline</title>\n<style>\n"
"body{font:13px sans-serif;margin:0;background:#fafafa;color:#222}\n"
"header{padding:8px 12px;border-bottom:1px solid #ccc;background:#fff}\n"
"h1{font-size:15px;margin:0 0 4px}\n.verdict{font-weight:bold}\n"
".text{max-width:1100px;color:#444;margin:4px 0}\n"
"#legend span{display:inline-block;margin-right:12px}\n"
"#legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}\n"
"#wrap{position:relative}\ncanvas{display:block;cursor:grab}\n"
"#tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #999;"
"padding:3px 6px;font-size:12px;display:none;white-space:pre}\n"
"</style></head><body>\n<header><h1>";

static const char page_script[] =
"<script>\n"
"'use strict';\n"
"const D = JSON.parse(document.getElementById('data').textContent);\n"
"const STATE = ['running', 'runnable (waiting for a core)', 'blocked on a lock', 'blocked'];\n"
"const SCOL = ['#2ca02c', '#ff9f1c', '#d62728', '#9ecae1'];\n"
"const LANE = 18, GAP = 4, LABEL = 190, TOP = 22;\n"
"const cv = document.getElementById('cv'), ctx = cv.getContext('2d');\n"
"const tip = document.getElementById('tip');\n"
"const lanes = [];\n"
"D.cores.forEach((sp, c) => lanes.push({name: 'cpu' + c, spans: sp, core: true}));\n"
"D.threads.forEach(t => lanes.push({name: t.tid + ' ' + t.comm, spans: t.spans, core: false, t: t}));\n"
"let v0 = 0, v1 = Math.max(D.span_us, 1), drawn = 0;\n"
"function hue(tid) { return (tid * 2654435761 % 360 + 360) % 360; }\n"
"function colour(l, s) {\n"
"  if (!l.core) return SCOL[s[3]] || '#999';\n"
"  const task = D.tasks[s[2]];\n"
"  if (!task || !task[2]) return '#bbb';\n"
"  return 'hsl(' + hue(task[1]) + ',60%,' + (40 + hue(s[2]) % 25) + '%)';\n"
"}\n"
"function size() {\n"
"  cv.width = Math.max(600, window.innerWidth);\n"
"  cv.height = TOP + lanes.length * (LANE + GAP) + 10;\n"
"}\n"
"function x(t) { return LABEL + (t - v0) / (v1 - v0) * (cv.width - LABEL - 10); }\n"
"function draw() {\n"
"  ctx.clearRect(0, 0, cv.width, cv.height);\n"
"  ctx.font = '12px sans-serif';\n"
"  drawn = 0;\n"
"  ctx.fillStyle = '#555';\n"
"  for (let k = 0; k <= 5; k++) {\n"
"    const t = v0 + (v1 - v0) * k / 5, px = x(t);\n"
"    ctx.fillText((t / 1000).toFixed(2) + ' ms', px, 12);\n"
"    ctx.fillRect(px, 15, 1, cv.height);\n"
"  }\n"
"  lanes.forEach((l, i) => {\n"
"    const y = TOP + i * (LANE + GAP);\n"
"    ctx.fillStyle = '#222';\n"
"    ctx.fillText(l.name.slice(0, 28), 4, y + 13);\n"
"    ctx.fillStyle = '#eee';\n"
"    ctx.fillRect(LABEL, y, cv.width - LABEL - 10, LANE);\n"
"    for (const s of l.spans) {\n"
"      if (s[1] < v0 || s[0] > v1 || (l.core && !s[2])) continue;\n"
"      const a = Math.max(x(s[0]), LABEL), b = Math.min(x(s[1]), cv.width - 10);\n"
"      ctx.fillStyle = colour(l, s);\n"
"      ctx.fillRect(a, y, Math.max(b - a, 0.5), LANE);\n"
"      drawn++;\n"
"    }\n"
"  });\n"
"  document.body.dataset.lanes = lanes.length;\n"
"  document.body.dataset.drawn = drawn;\n"
"}\n"
"function at(ev) {\n"
"  const r = cv.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;\n"
"  const i = Math.floor((py - TOP) / (LANE + GAP));\n"
"  if (i < 0 || i >= lanes.length || px < LABEL) return null;\n"
"  const t = v0 + (px - LABEL) / (cv.width - LABEL - 10) * (v1 - v0), l = lanes[i];\n"
"  for (let k = 0; k < l.spans.length; k++) {\n"
"    const s = l.spans[k];\n"
"    if (s[0] <= t && t < s[1]) return {l: l, s: s, k: k};\n"
"  }\n"
"  return null;\n"
"}\n"
"function describe(h) {\n"
"  const s = h.s, d = ((s[1] - s[0]) / 1000).toFixed(3) + ' ms';\n"
"  if (h.l.core) {\n"
"    const task = D.tasks[s[2]] || ['?', 0, false];\n"
"    return h.l.name + ': ' + task[0] + ' (tid ' + s[2] + ', pid ' + task[1] + ')' +\n"
"      (task[2] ? '' : ', not traced') + '\\n' + d;\n"
"  }\n"
"  const lock = h.l.t.locks[h.k];\n"
"  return h.l.name + ': ' + STATE[s[3]] + (s[3] == 0 ? ' on cpu' + s[2] : '') +\n"
"    (lock ? ' in ' + lock : '') + '\\n' + d;\n"
"}\n"
"cv.addEventListener('wheel', ev => {\n"
"  ev.preventDefault();\n"
"  const r = cv.getBoundingClientRect(), px = ev.clientX - r.left;\n"
"  const t = v0 + Math.max(0, px - LABEL) / (cv.width - LABEL - 10) * (v1 - v0);\n"
"  const f = ev.deltaY < 0 ? 0.8 : 1.25;\n"
"  v0 = t - (t - v0) * f; v1 = t + (v1 - t) * f;\n"
"  if (v1 - v0 < 1) v1 = v0 + 1;\n"
"  draw();\n"
"}, {passive: false});\n"
"let drag = null;\n"
"cv.addEventListener('mousedown', ev => { drag = {x: ev.clientX, v0: v0, v1: v1}; });\n"
"window.addEventListener('mouseup', () => { drag = null; });\n"
"cv.addEventListener('mousemove', ev => {\n"
"  if (drag) {\n"
"    const dt = (ev.clientX - drag.x) / (cv.width - LABEL - 10) * (drag.v1 - drag.v0);\n"
"    v0 = drag.v0 - dt; v1 = drag.v1 - dt; draw(); return;\n"
"  }\n"
"  const h = at(ev);\n"
"  if (!h) { tip.style.display = 'none'; return; }\n"
"  tip.textContent = describe(h);\n"
"  tip.style.display = 'block';\n"
"  tip.style.left = (ev.offsetX + 12) + 'px';\n"
"  tip.style.top = (ev.offsetY + 12) + 'px';\n"
"});\n"
"document.getElementById('reset').addEventListener('click', () => { v0 = 0; v1 = Math.max(D.span_us, 1); draw(); });\n"
"window.addEventListener('resize', () => { size(); draw(); });\n"
"size(); draw();\n"
"</script>\n";

int export_timeline_html(FILE *out, const struct model *m, const struct diagnosis *d,
			 const struct report_opts *ro)
{
	struct timeline tl;
	uint64_t lost = 0;

	timeline_build(m, &tl);
	for (int c = 0; c < tl.nr_cpus; c++)
		lost += tl.cores[c].lost;
	fputs(page_head, out);
	fputs("poolscope: ", out);
	html_text(out, ro && ro->title ? ro->title : "trace");
	fputs("</h1>\n<div><span class=\"verdict\">", out);
	html_text(out, d->label);
	fprintf(out, "</span> (confidence %.2f, %s)</div>\n<div class=\"text\">", d->confidence,
		diagnose_confidence_word(d->confidence));
	html_text(out, d->text);
	fprintf(out, "</div>\n<div>%zu records, %llu lost in the kernel%s, over %.3f ms. "
		"Wheel: zoom; drag: pan; hover: details. <button id=\"reset\">Reset zoom</button>"
		"</div>\n", tl.records, (unsigned long long)lost,
		tl.over ? " (and more beyond poolscope's cap)" : "", (tl.t1 - tl.t0) / 1e6);
	fputs("<div id=\"legend\"><span><i style=\"background:#2ca02c\"></i>running</span>"
	      "<span><i style=\"background:#ff9f1c\"></i>runnable (waiting for a core)</span>"
	      "<span><i style=\"background:#d62728\"></i>blocked on a lock</span>"
	      "<span><i style=\"background:#9ecae1\"></i>blocked (IO, sleep)</span>"
	      "<span><i style=\"background:#bbb\"></i>untraced task (core lanes; colours: "
	      "the traced process and thread)</span></div>\n</header>\n"
	      "<div id=\"wrap\"><canvas id=\"cv\"></canvas><div id=\"tip\"></div></div>\n"
	      "<script type=\"application/json\" id=\"data\">", out);
	/* '<' only occurs inside JSON strings: as \u003c a task named
	 * "</script>" cannot end the element */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	if (!mem) {
		timeline_free(&tl);
		return -ENOMEM;
	}
	write_data(mem, m, d, ro, &tl);
	fclose(mem);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '<')
			fputs("\\u003c", out);
		else
			fputc(buf[i], out);
	free(buf);
	fputs("</script>\n", out);
	fputs(page_script, out);
	fputs("</body></html>\n", out);
	timeline_free(&tl);
	return ferror(out) ? -EIO : 0;
}
