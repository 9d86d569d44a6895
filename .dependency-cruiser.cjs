// The layering of the source folders, checked by `npm run lint` (dependency-cruiser). Imports run
// one way: root (instance, main) -> services -> http, streams -> machines, storage,
// integrations -> actors (the runtime). Type-only imports count like any other.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "runtime-knows-no-service",
      comment: "actors/ is the runtime: it imports only itself and the runtime's own storage (actorStore, database), so a new service never edits it.",
      severity: "error",
      from: { path: "^actors/" },
      to: {
        path: "^(?!actors/|storage/(actorStore|database)\\.ts$)",
        dependencyTypesNot: ["core", "npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown"],
      },
    },
    {
      name: "storage-knows-no-machine",
      comment: "storage/ defines its own row types; each service maps its machine context to rows. From the runtime it may use only errors, clock and logger.",
      severity: "error",
      from: { path: "^storage/" },
      to: { path: "^(machines|services|integrations|http|streams)/|^actors/(?!(errors|clock|logger)\\.ts$)|^[^/]+\\.ts$" },
    },
    {
      name: "machines-are-pure",
      comment: "machines/ are statecharts: no I/O, no storage, partners, routes, streams or services; effects are provided by the service's kind.",
      severity: "error",
      from: { path: "^machines/" },
      to: { path: "^(storage|integrations|http|streams|services)/|^[^/]+\\.ts$" },
    },
    {
      name: "machines-do-no-io",
      comment: "A machine that imports node's I/O modules is not pure.",
      severity: "error",
      from: { path: "^machines/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "integrations-know-no-caller",
      comment: "Partner clients and simulators are leaves: no routes, services, streams or machines.",
      severity: "error",
      from: { path: "^integrations/" },
      to: { path: "^(http|services|streams|machines)/|^[^/]+\\.ts$" },
    },
    {
      name: "streams-know-no-service",
      comment: "RxJS pipelines take their sources and sinks as parameters; the service wires them.",
      severity: "error",
      from: { path: "^streams/" },
      to: { path: "^(http|services)/|^(?!config\\.ts$)[^/]+\\.ts$" },
    },
    {
      name: "http-knows-no-wiring",
      comment: "Routes may call a service's modules, never its wiring (services/<name>/index.ts mounts the routes).",
      severity: "error",
      from: { path: "^http/" },
      to: { path: "^services/([^/]+/index|Service|publicEvents)\\.ts$|^(instance|main)\\.ts$" },
    },
    {
      name: "services-are-independent",
      comment: "A service imports no other service; what they share lives below them.",
      severity: "error",
      from: { path: "^services/([^/]+)/" },
      to: { path: "^services/[^/]+/", pathNot: "^services/$1/" },
    },
    {
      name: "config-is-a-leaf",
      comment: "config.ts decodes the environment; services and streams import its helpers, so it imports nothing of ours.",
      severity: "error",
      from: { path: "^config\\.ts$" },
      to: { dependencyTypesNot: ["core", "npm", "npm-dev", "npm-optional", "npm-peer", "npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "only-the-root-composes",
      comment: "instance.ts and main.ts compose an instance; nothing below imports them.",
      severity: "error",
      from: { path: "^(actors|machines|storage|integrations|streams|http|services)/" },
      to: { path: "^(instance|main)\\.ts$" },
    },
    {
      name: "no-test-code-in-production",
      severity: "error",
      from: { pathNot: "^(test|bench)/" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "no-circular",
      comment: "Modules that import each other in a circle cannot be understood or changed one at a time.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-orphans",
      comment: "A source module nothing imports is dead code (entry points excepted).",
      severity: "error",
      from: {
        orphan: true,
        pathNot: ["^(test|bench)/", "^(main|vitest\\.config)\\.ts$", "\\.d\\.ts$", "\\.(c|m)?js$", "statusIngest\\.worker\\.ts$"],
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|\\.data|docs)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
