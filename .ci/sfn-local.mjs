// sfn-local: a local Step Functions API for tests. It serves StartExecution and
// DescribeExecution (AWS JSON 1.0, as the Go SDK speaks it) on 127.0.0.1 and runs every
// execution of one state machine definition in aws-local-stepfunctions, whose Task
// states invoke Lambda functions running under aws-lambda-rie.
//
//   node .ci/sfn-local.mjs --listen 127.0.0.1:0 --state-machine-arn ARN \
//     --definition FILE --function RESOURCE=http://127.0.0.1:PORT [--function ...] \
//     [--retry-interval-ms N] [--modules DIR]
//
// It needs Node 22 (aws-local-stepfunctions 3 does) and the npm packages that
// `.ci/local-aws.sh install` puts in .local-aws/stepfunctions/node_modules (or
// --modules, or $LOCAL_AWS_SFN_MODULES). When it listens it prints one line,
// "listening on http://ADDR", on standard output; it logs executions on standard
// error. It stops on SIGTERM or SIGINT.
//
// A Task whose Resource is given by --function POSTs its input to that emulator's
// invoke URL. A function error ({"errorType", "errorMessage"}) becomes the state's
// error, named by errorType with the payload's JSON as its Cause, as Step Functions
// reports Lambda errors; a runtime that exits during the invocation (the emulator
// answers 502 Runtime.ExitError) gives Lambda.Unknown, as Step Functions reports it; an
// emulator that cannot be reached, or any other 5xx, gives Lambda.ServiceException.
// Invocations of one emulator are serialized: it runs one at a time.
// --retry-interval-ms replaces every Retry wait (for quick tests).
//
// Test controls: POST /_control {"failStarts": true} makes StartExecution answer 500
// until {"failStarts": false}; GET /_executions lists the executions with their
// status and how many times a state was retried.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:0' },
    'state-machine-arn': { type: 'string' },
    definition: { type: 'string' },
    function: { type: 'string', multiple: true, default: [] },
    'retry-interval-ms': { type: 'string' },
    modules: { type: 'string' },
  },
});

function die(msg) {
  process.stderr.write(`sfn-local: ${msg}\n`);
  process.exit(2);
}

if (!args['state-machine-arn'] || !args.definition) die('--state-machine-arn and --definition are required');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modules = args.modules || process.env.LOCAL_AWS_SFN_MODULES || join(root, '.local-aws/stepfunctions/node_modules');
const { StateMachine, ExecutionError, ExecutionTimeoutError } = await import(
  pathToFileURL(join(modules, 'aws-local-stepfunctions/build/main.node.esm.js')).href
);

const stateMachineArn = args['state-machine-arn'];
const definition = JSON.parse(readFileSync(args.definition, 'utf8'));
const functions = new Map();
for (const f of args.function) {
  const i = f.indexOf('=http');
  if (i < 0) die(`--function ${f}: want RESOURCE=http://HOST:PORT`);
  functions.set(f.slice(0, i), f.slice(i + 1).replace(/\/$/, ''));
}
const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });

// One queue per emulator: aws-lambda-rie serves one invocation at a time.
const queues = new Map();
function serialized(url, fn) {
  const prev = queues.get(url) || Promise.resolve();
  const next = prev.catch(() => {}).then(fn);
  queues.set(url, next);
  return next;
}

function lambdaError(name, cause) {
  const err = new Error(cause);
  err.name = name;
  return err;
}

async function invoke(url, payload) {
  return serialized(url, async () => {
    let resp;
    try {
      resp = await fetch(`${url}/2015-03-31/functions/function/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
    } catch (e) {
      throw lambdaError('Lambda.ServiceException', `the function's emulator cannot be reached: ${e.cause?.code || e.message}`);
    }
    const text = await resp.text();
    if (resp.status >= 500) {
      // The emulator answers 502 {"errorType": "Runtime.ExitError", ...} when the
      // function's runtime exits during the invocation (a crash, a kill, out of
      // memory): an unhandled error, which Step Functions reports as Lambda.Unknown.
      let crash;
      try {
        crash = JSON.parse(text);
      } catch {}
      if (typeof crash?.errorType === 'string' && crash.errorType.startsWith('Runtime.')) {
        throw lambdaError('Lambda.Unknown', `the function's runtime exited during the invocation: ${text}`);
      }
      throw lambdaError('Lambda.ServiceException', `the function's emulator answered ${resp.status}: ${text}`);
    }
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw lambdaError('Lambda.Unknown', `the function answered something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (body && typeof body === 'object' && typeof body.errorType === 'string' && 'errorMessage' in body) {
      throw lambdaError(body.errorType, JSON.stringify({ errorMessage: body.errorMessage, errorType: body.errorType }));
    }
    return body;
  });
}

// Local handlers for every Task state whose Resource is a given function.
const taskResourceLocalHandlers = {};
for (const [name, state] of Object.entries(definition.States)) {
  if (state.Type !== 'Task') continue;
  const url = functions.get(state.Resource);
  if (!url) die(`Task ${name}: no --function for its Resource ${state.Resource}`);
  taskResourceLocalHandlers[name] = (input) => invoke(url, input);
}
const retryIntervalOverrides = {};
if (args['retry-interval-ms'] !== undefined) {
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Retry) retryIntervalOverrides[name] = Number(args['retry-interval-ms']);
  }
}

const executions = new Map(); // by name
let failStarts = false;
const executionArn = (name) => stateMachineArn.replace(':stateMachine:', ':execution:') + ':' + name;
const epoch = (ms) => ms / 1000;

function startExecution(req) {
  if (failStarts) return [500, { __type: 'ServiceUnavailable', message: 'StartExecution is failing (test control)' }];
  if (req.stateMachineArn !== stateMachineArn) {
    return [400, { __type: 'StateMachineDoesNotExist', message: `State Machine Does Not Exist: '${req.stateMachineArn}'` }];
  }
  const name = req.name;
  if (typeof name !== 'string' || name.length < 1 || name.length > 80 || /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/.test(name)) {
    return [400, { __type: 'InvalidName', message: `Invalid Name: '${name}'` }];
  }
  const input = req.input ?? '{}';
  const existing = executions.get(name);
  if (existing) {
    if (existing.status === 'RUNNING' && existing.input === input) {
      return [200, { executionArn: existing.arn, startDate: epoch(existing.startDate) }];
    }
    return [400, { __type: 'ExecutionAlreadyExists', message: `Execution Already Exists: '${existing.arn}'` }];
  }
  const exec = { name, arn: executionArn(name), input, status: 'RUNNING', startDate: Date.now(), retries: 0, steps: 0 };
  executions.set(name, exec);
  run(exec);
  return [200, { executionArn: exec.arn, startDate: epoch(exec.startDate) }];
}

async function run(exec) {
  const execution = machine.run(JSON.parse(exec.input), {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
    context: {
      Execution: { Id: exec.arn, Name: exec.name, Input: JSON.parse(exec.input), StartTime: new Date(exec.startDate).toISOString() },
      StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(':').pop() },
    },
  });
  (async () => {
    for await (const ev of execution.eventLogs) {
      if (ev.type === 'StateRetried') exec.retries++;
      if (ev.type === 'StateEntered' && ev.state?.type === 'Task') exec.steps++;
      if (ev.type === 'StateRetried' || ev.type === 'StateCaught' || ev.type === 'StateFailed') {
        log(`${exec.name}: ${ev.type} ${ev.state?.name}${ev.Error ? ` ${ev.Error}` : ''}`);
      }
    }
  })().catch(() => {});
  try {
    exec.output = JSON.stringify(await execution.result);
    exec.status = 'SUCCEEDED';
  } catch (e) {
    if (e instanceof ExecutionTimeoutError) {
      exec.status = 'TIMED_OUT';
    } else {
      exec.status = 'FAILED';
      const cause = e instanceof ExecutionError ? e.cause : e;
      exec.error = cause?.name;
      exec.cause = typeof cause?.message === 'string' ? cause.message : String(cause);
    }
  }
  exec.stopDate = Date.now();
  log(`${exec.name}: ${exec.status}${exec.error ? ` ${exec.error}` : ''} after ${exec.steps} task(s), ${exec.retries} retry(ies), ${exec.stopDate - exec.startDate} ms`);
}

function describeExecution(req) {
  const name = typeof req.executionArn === 'string' ? req.executionArn.slice(req.executionArn.lastIndexOf(':') + 1) : '';
  const exec = executions.get(name);
  if (!exec || exec.arn !== req.executionArn) {
    return [400, { __type: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${req.executionArn}'` }];
  }
  const out = {
    executionArn: exec.arn, stateMachineArn, name: exec.name, status: exec.status,
    startDate: epoch(exec.startDate), input: exec.input,
  };
  if (exec.stopDate) out.stopDate = epoch(exec.stopDate);
  if (exec.output !== undefined) out.output = exec.output;
  if (exec.error !== undefined) out.error = exec.error;
  if (exec.cause !== undefined) out.cause = exec.cause;
  return [200, out];
}

function log(msg) {
  process.stderr.write(`sfn-local: ${new Date().toISOString()} ${msg}\n`);
}

const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  const send = (status, obj, type = 'application/x-amz-json-1.0') => {
    res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': crypto.randomUUID() });
    res.end(JSON.stringify(obj));
  };
  try {
    if (req.url === '/_control' && req.method === 'POST') {
      const c = JSON.parse(body || '{}');
      if (typeof c.failStarts === 'boolean') failStarts = c.failStarts;
      return send(200, { failStarts }, 'application/json');
    }
    if (req.url === '/_executions' && req.method === 'GET') {
      return send(200, [...executions.values()].map(({ name, status, retries, steps, error, cause }) => ({ name, status, retries, steps, error, cause })), 'application/json');
    }
    const target = req.headers['x-amz-target'] || '';
    const input = JSON.parse(body || '{}');
    switch (target) {
      case 'AWSStepFunctions.StartExecution':
        return send(...startExecution(input));
      case 'AWSStepFunctions.DescribeExecution':
        return send(...describeExecution(input));
      default:
        return send(400, { __type: 'UnknownOperationException', message: `sfn-local does not serve ${target}` });
    }
  } catch (e) {
    return send(400, { __type: 'SerializationException', message: String(e?.message || e) });
  }
});

const [host, port] = args.listen.split(':');
server.listen(Number(port), host, () => {
  const a = server.address();
  process.stdout.write(`listening on http://${a.address}:${a.port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
