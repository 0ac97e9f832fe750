#!/usr/bin/env node
// Lints an OpenAPI document (default: the repository's openapi.yaml):
//  - YAML that parses without warnings (no duplicate keys, no tabs);
//  - valid against the official JSON Schema of its OpenAPI version, with
//    every internal $ref resolving (@seriousme/openapi-schema-validator,
//    pinned in package-lock.json);
//  - and the rules of this project that no schema states: every operation
//    has a summary, a unique camelCase operationId and tags declared at the
//    top; path templates and path parameters agree; every operation has a
//    2xx answer, and every JSON answer a schema whose objects all say
//    additionalProperties (an answer documents every member it carries).
// Prints "openapi lint: ok (N operations)" or each fault; exit 1 on a fault.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { parseDocument } from "yaml";

const file = process.argv[2] ??
	fileURLToPath(new URL("../../openapi.yaml", import.meta.url));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const faults = [];

const doc = parseDocument(await readFile(file, "utf8"), { prettyErrors: true });
for (const e of [...doc.errors, ...doc.warnings])
	faults.push(`YAML: ${e.message}`);
if (doc.errors.length) finish();
const spec = doc.toJS();

const validator = new Validator({ allErrors: true });
const res = await validator.validate(spec);
if (!res.valid) {
	for (const e of Array.isArray(res.errors) ? res.errors : [res.errors])
		faults.push(typeof e === "string" ? e
			: `${e.instancePath || "/"}: ${e.message} ${JSON.stringify(e.params)}`);
	finish();
}

function deref(obj) {
	for (let seen = 0; obj && obj.$ref && seen < 16; seen++)
		obj = obj.$ref.slice(2).split("/")
			.map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
			.reduce((o, p) => o?.[p], spec);
	return obj;
}

// Objects in an answer's schema that leave additionalProperties unsaid.
const checked = new Set();
function openObjects(schema, where) {
	const name = schema?.$ref;
	schema = deref(schema);
	if (!schema || typeof schema !== "object" || checked.has(schema)) return;
	checked.add(schema);
	if ((schema.type === "object" || schema.properties) && !("additionalProperties" in schema))
		faults.push(`${where}: ${name ?? "an object"} does not say additionalProperties`);
	for (const s of Object.values(schema.properties ?? {})) openObjects(s, where);
	for (const s of [schema.items, schema.additionalProperties, schema.not,
		...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])])
		if (s && typeof s === "object") openObjects(s, where);
}

const declaredTags = new Set((spec.tags ?? []).map((t) => t.name));
const usedTags = new Set();
const ids = new Map();
let count = 0;
for (const [path, item] of Object.entries(spec.paths ?? {})) {
	const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
	for (const method of METHODS.filter((m) => item[m])) {
		const op = item[method];
		const where = `${method.toUpperCase()} ${path}`;
		count++;
		if (!op.summary) faults.push(`${where}: no summary`);
		if (!/^[a-z][A-Za-z0-9]*$/.test(op.operationId ?? ""))
			faults.push(`${where}: operationId ${JSON.stringify(op.operationId)} is not camelCase`);
		else if (ids.has(op.operationId))
			faults.push(`${where}: operationId ${op.operationId} is also ${ids.get(op.operationId)}'s`);
		else ids.set(op.operationId, where);
		if (!op.tags?.length) faults.push(`${where}: no tags`);
		for (const t of op.tags ?? []) {
			usedTags.add(t);
			if (!declaredTags.has(t)) faults.push(`${where}: tag ${t} is not declared under tags`);
		}
		// an operation's parameter replaces the path item's of the same name and place
		const params = new Map();
		for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref))
			params.set(`${p.in}:${p.name}`, p);
		const inPath = [...params.values()].filter((p) => p.in === "path");
		for (const name of inTemplate)
			if (!inPath.some((p) => p.name === name && p.required === true))
				faults.push(`${where}: {${name}} has no required path parameter`);
		for (const p of inPath)
			if (!inTemplate.includes(p.name))
				faults.push(`${where}: path parameter ${p.name} is not in the path`);
		const responses = Object.entries(op.responses ?? {});
		if (!responses.some(([code]) => /^2(\d\d|XX)$/.test(code)))
			faults.push(`${where}: no 2xx answer`);
		for (const [code, r] of responses)
			for (const [type, media] of Object.entries(deref(r).content ?? {}))
				if (type === "application/json" || type.endsWith("+json")) {
					if (!media.schema) faults.push(`${where} ${code}: ${type} has no schema`);
					else openObjects(media.schema, `${where} ${code} ${type}`);
				}
	}
}
for (const t of declaredTags)
	if (!usedTags.has(t)) faults.push(`tag ${t} is declared but no operation has it`);
finish();

function finish() {
	if (faults.length) {
		for (const f of faults) console.error(`${file}: ${f}`);
		console.error(`openapi lint: ${faults.length} fault(s)`);
		process.exit(1);
	}
	console.log(`openapi lint: ok (${count} operations, OpenAPI ${spec.openapi})`);
	process.exit(0);
}
