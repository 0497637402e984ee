// Renders the API's OpenAPI document as a list of operations, grouped by tag. Reads
// /openapi.json from the same origin; nothing else is loaded.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function schemaName(reference) {
  return reference.split("/").pop();
}

// A schema as a short type description: `User`, `string (uuid)`, `array of Role`, ...
function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return schemaName(schema.$ref);
  if (schema.oneOf) return schema.oneOf.map(typeOf).join(" or ");
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const main = types.filter((t) => t !== "null");
  const nullable = types.includes("null") ? ", or null" : "";
  if (main[0] === "array") return "array of " + typeOf(schema.items) + nullable;
  if (schema.enum) return "one of " + schema.enum.filter((v) => v !== null).join(", ") + nullable;
  const format = schema.format ? " (" + schema.format + ")" : "";
  return (main.join(" or ") || "object") + format + nullable;
}

function schemaTable(schemas, name) {
  const schema = schemas[name] || {};
  if (!schema.properties) {
    return el("p", { class: "type" }, typeOf(schema));
  }
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties).map(([field, property]) =>
    el(
      "tr",
      {},
      el("td", {}, el("code", {}, field), required.has(field) ? " *" : ""),
      el("td", { class: "type" }, typeOf(property)),
      el("td", {}, property.description || ""),
    ),
  );
  return el("table", {}, el("tbody", {}, ...rows));
}

function operationView(spec, path, method, operation) {
  const schemas = spec.components.schemas;
  const details = el(
    "details",
    { class: "operation", id: operation.operationId },
    el(
      "summary",
      {},
      el("span", { class: "method " + method }, method.toUpperCase()),
      el("code", { class: "path" }, path),
      el("span", { class: "summary" }, operation.summary),
    ),
  );
  if (operation.description) details.append(el("p", {}, operation.description));
  const auth = operation.security && operation.security.length ? "Bearer token" : "No token";
  details.append(el("p", { class: "auth" }, auth));
  if (operation.parameters) {
    const rows = operation.parameters.map((p) =>
      el(
        "tr",
        {},
        el("td", {}, el("code", {}, p.name)),
        el("td", {}, p.in),
        el("td", {}, p.description || typeOf(p.schema)),
      ),
    );
    details.append(el("h4", {}, "Parameters"), el("table", {}, el("tbody", {}, ...rows)));
  }
  const body = operation.requestBody;
  if (body) {
    const name = schemaName(body.content["application/json"].schema.$ref);
    details.append(el("h4", {}, "Request body: " + name), schemaTable(schemas, name));
    const example = (schemas[name] || {}).example;
    if (example) details.append(el("pre", {}, JSON.stringify(example, null, 2)));
  }
  const responses = Object.entries(operation.responses).map(([status, response]) => {
    const content = response.content ? Object.values(response.content)[0].schema : null;
    return el(
      "tr",
      {},
      el("td", { class: "status s" + status[0] }, status),
      el("td", {}, response.description),
      el("td", { class: "type" }, content ? typeOf(content) : ""),
    );
  });
  details.append(el("h4", {}, "Responses"), el("table", {}, el("tbody", {}, ...responses)));
  return details;
}

function render(spec) {
  const root = document.getElementById("operations");
  document.title = spec.info.title;
  document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
  document.getElementById("description").textContent = spec.info.description;
  const byTag = new Map(spec.tags.map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) byTag.get(operation.tags[0]).push([path, method, operation]);
    }
  }
  for (const [tag, operations] of byTag) {
    const section = el("section", { class: "tag" }, el("h2", {}, tag));
    for (const [path, method, operation] of operations) {
      section.append(operationView(spec, path, method, operation));
    }
    root.append(section);
  }
  root.setAttribute("data-operations", String(root.querySelectorAll(".operation").length));
}

fetch("/openapi.json")
  .then((response) => {
    if (!response.ok) throw new Error("GET /openapi.json: " + response.status);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    document.getElementById("operations").textContent = "Could not load the API description: " + error.message;
  });
