/**
 * Google Cloud access through project IAM policies: `gcloud role <role>` adds a binding of the role
 * for the requester on the catalog's project, with an IAM condition that makes Google stop honouring
 * it at `notAfter` (see conditionalBinding.ts). Policies are changed read-modify-write with their
 * etag through Resource Manager's `getIamPolicy` / `setIamPolicy`, over the client library's REST
 * transport.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ProjectsClient } from '@google-cloud/resource-manager';
import { OAuth2Client } from 'google-auth-library';
import {
  ProviderInputError,
  type GrantInspection,
  type GrantSpec,
  type MarkedGrant,
  type PropagationSettings,
  type Provider,
} from '../provider';
import { GCLOUD_GRANT_KINDS, PROJECT_PATTERN, ROLE_PATTERN, projectOf, type GcloudPrincipalType } from './catalog';
import { classifyGoogleError, isConcurrentChange, isConnectionFailure, isGoogleNotFound } from './errors';
import {
  CONDITIONAL_POLICY_VERSION,
  grantCondition,
  grantConditionTitle,
  hasGrant,
  markedGrantBindings,
  requestIdOfConditionTitle,
  withGrant,
  withoutGrant,
  type GrantBinding,
  type IamPolicy,
} from './conditionalBinding';

export interface GcloudSettings {
  /** The prefix the requester's email is bound with: `user:`, `serviceAccount:` or `group:`. */
  principalType: GcloudPrincipalType;
  propagation: PropagationSettings;
  /** The catalog's projects: where listMarked looks for the product's bindings. */
  projects: readonly string[];
  /** Resource Manager's base URL (a fake or a private endpoint); Google's own when undefined. */
  endpoint?: string;
  /** A static bearer token instead of Application Default Credentials. */
  accessToken?: string;
}

/**
 * Read-modify-write attempts when setIamPolicy keeps answering that the policy changed meanwhile.
 * Past it the error is rethrown and the activity retries later, with Temporal's backoff.
 */
const MAX_WRITE_ATTEMPTS = 5;
const CONFLICT_BACKOFF_MS = 200;
/**
 * Each call is tried once: Temporal retries the activity with backoff, so the library's own retries
 * (up to 10 minutes for getIamPolicy) would only hide an outage from the request's history. The
 * timeout keeps a grant (a read and a write, more on conflicts) inside the activities' 30 s heartbeat
 * timeout, since they do not heartbeat while calling the provider.
 */
const CALL_OPTIONS = { retry: null, timeout: 10_000 };
/**
 * The exception: a call whose connection failed or was cut before any answer (a reset, a socket
 * hung up) is tried again at once, up to three tries in all, as the AWS SDK does for IAM. A whole
 * provisioning attempt is a read, a write and a read-back, so with one lost connection in three it
 * succeeded one time in three, and a request could spend its verify timeout on activity retries.
 * Safe for both calls: getIamPolicy only reads, and a setIamPolicy whose reply was lost is refused
 * on its second try for its now-stale etag (409), which starts the read-modify-write again from a
 * fresh read that already shows the change.
 */
const CONNECTION_TRIES = 3;
const CONNECTION_RETRY_PAUSE_MS = 100;

/** A spec with its project, role and member worked out: everything a call to Google needs. */
interface ResolvedGrant extends GrantBinding {
  project: string;
}

export class GcloudProjectIamProvider implements Provider {
  readonly name = 'gcloud';
  readonly propagation: PropagationSettings;
  private readonly projects: ProjectsClient;
  private readonly principalType: GcloudPrincipalType;
  /** Catalog projects nothing could be granted in (not a project id) are left out: they hold nothing of ours. */
  private readonly catalogProjects: string[];

  constructor({ projects, settings }: { projects: ProjectsClient; settings: Pick<GcloudSettings, 'principalType' | 'propagation' | 'projects'> }) {
    this.projects = projects;
    this.propagation = settings.propagation;
    this.principalType = settings.principalType;
    this.catalogProjects = [...new Set(settings.projects)].filter((project) => PROJECT_PATTERN.test(project));
  }

  /** `present` is this request's own binding: nobody else's access ever counts as this grant. */
  async inspect(spec: GrantSpec): Promise<GrantInspection> {
    const grant = this.resolve(spec);
    const policy = await this.readPolicy(grant.project, 'strict');
    return { resourceKey: resourceKeyOf(grant), present: hasGrant(policy, grant), principal: { member: grant.member } };
  }

  /** An upsert: adds the binding, or rewrites its condition to the spec's `notAfter` (an extension). */
  async grant(spec: GrantSpec): Promise<void> {
    const grant = this.resolve(spec);
    const condition = grantCondition(spec.requestId, spec.notAfter);
    await this.modifyPolicy(grant, 'strict', `granting ${describe(grant)}`, (policy) => withGrant(policy, grant, condition));
  }

  /** Removes exactly this request's binding (its member in it); a project that is gone holds nothing. */
  async revoke(spec: GrantSpec): Promise<void> {
    const grant = this.resolve(spec);
    await this.modifyPolicy(grant, 'lenient', `revoking ${describe(grant)}`, (policy) => withoutGrant(policy, grant));
  }

  async isGranted(spec: GrantSpec): Promise<boolean> {
    const grant = this.resolve(spec);
    const policy = await this.readPolicy(grant.project, 'lenient');
    return policy !== undefined && hasGrant(policy, grant);
  }

  /**
   * One MarkedGrant per member of each binding whose condition is titled `p0-<requestId>`, in every
   * catalog project. A project Google says is gone holds nothing; any other failure to read a policy
   * throws (and is retried), so a project that could not be read is never reported as holding nothing.
   */
  async listMarked(): Promise<MarkedGrant[]> {
    const perProject = await Promise.all(
      this.catalogProjects.map(async (project) => {
        const policy = await this.readPolicy(project, 'lenient');
        return policy ? markedGrantBindings(policy).map(({ requestId, ...binding }) => markedGrantOf({ project, ...binding }, requestId)) : [];
      }),
    );
    return perProject.flat();
  }

  /** Removes the member from the marked binding, as revoke does; already gone (or the project gone) is success. */
  async removeMarked(marked: MarkedGrant): Promise<void> {
    const grant = grantOfMarked(marked);
    await this.modifyPolicy(grant, 'lenient', `removing ${describe(grant)}`, (policy) => withoutGrant(policy, grant));
  }

  /**
   * Checks the spec's shape; nothing here needs a call to Google. The member is the recorded one when
   * the spec carries it (a later change of `principalType` must not make revoke miss the binding).
   */
  private resolve(spec: GrantSpec): ResolvedGrant {
    if (!GCLOUD_GRANT_KINDS.some((kind) => kind === spec.kind)) {
      throw new ProviderInputError(`Google Cloud has no grant kind "${spec.kind}": use one of ${GCLOUD_GRANT_KINDS.join(', ')}`);
    }
    const project = projectOf({ resource: spec.resource, project: spec.scope.project });
    if (!PROJECT_PATTERN.test(project)) {
      throw new ProviderInputError(`"${project}" is not a Google Cloud project id or number: set the catalog resource's project`);
    }
    if (!ROLE_PATTERN.test(spec.target)) {
      throw new ProviderInputError(`"${spec.target}" is not a Google Cloud IAM role: use roles/<name>, or a custom role's full name`);
    }
    const recordedMember = spec.recordedPrincipal?.member;
    if (recordedMember !== undefined && !/^(user|group|serviceAccount):[^@\s:]+@[^@\s]+$/.test(recordedMember)) {
      throw new ProviderInputError(`"${recordedMember}" is not a Google Cloud member this product binds`);
    }
    if (recordedMember === undefined && !/^[^@\s:]+@[^@\s]+$/.test(spec.principal)) {
      throw new ProviderInputError(`"${spec.principal}" is not an email address Google Cloud can bind a role to`);
    }
    return {
      project,
      role: spec.target,
      member: recordedMember ?? `${this.principalType}:${spec.principal.toLowerCase()}`,
      title: grantConditionTitle(spec.requestId),
    };
  }

  /**
   * The project's policy, version 3 so conditional bindings are included. `strict` (inspect, grant)
   * turns every input error into a ProviderInputError; `lenient` (revoke, isGranted) answers undefined
   * when Google says the project does not exist: nothing can be granted in it any more, and the
   * workflow's clean-up after a failure must succeed.
   */
  private async readPolicy(project: string, mode: 'strict'): Promise<IamPolicy>;
  private async readPolicy(project: string, mode: 'strict' | 'lenient'): Promise<IamPolicy | undefined>;
  private async readPolicy(project: string, mode: 'strict' | 'lenient'): Promise<IamPolicy | undefined> {
    try {
      const [policy] = await triedAgainOnLostConnections(() =>
        this.projects.getIamPolicy({ resource: `projects/${project}`, options: { requestedPolicyVersion: CONDITIONAL_POLICY_VERSION } }, CALL_OPTIONS),
      );
      return policy;
    } catch (error) {
      if (mode === 'lenient' && isGoogleNotFound(error)) return undefined;
      throw classifyGoogleError(error, `reading the IAM policy of project ${project}`);
    }
  }

  /**
   * Read-modify-write guarded by the policy's etag: setIamPolicy refuses a policy read before
   * someone else's change (409 ABORTED), and then the whole cycle starts again from a fresh read, so
   * a concurrent change is never overwritten. `change` answers undefined when there is nothing to do.
   */
  private async modifyPolicy(
    grant: ResolvedGrant,
    mode: 'strict' | 'lenient',
    action: string,
    change: (policy: IamPolicy) => IamPolicy | undefined,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const policy = await this.readPolicy(grant.project, mode);
      const next = policy && change(policy);
      if (!next) return;
      try {
        // No update mask: Google's default (`bindings, etag`) leaves audit configs as they are.
        await triedAgainOnLostConnections(() => this.projects.setIamPolicy({ resource: `projects/${grant.project}`, policy: next }, CALL_OPTIONS));
        return;
      } catch (error) {
        if (!isConcurrentChange(error)) throw classifyGoogleError(error, action);
        if (attempt >= MAX_WRITE_ATTEMPTS) {
          throw new Error(`The IAM policy of project ${grant.project} kept changing while ${action} (${attempt} attempts); will try again`, { cause: error });
        }
        // Google asks for the whole read-modify-write to be retried with exponential backoff.
        await sleep(CONFLICT_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
  }
}

/** `call()`, tried again (CONNECTION_TRIES in all) while its connection fails before any answer. */
async function triedAgainOnLostConnections<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= CONNECTION_TRIES || !isConnectionFailure(error)) throw error;
      await sleep(CONNECTION_RETRY_PAUSE_MS * attempt * (0.5 + Math.random()));
    }
  }
}

/** A provider talking to Resource Manager over REST, with ADC unless a static token is configured. */
export function createGcloudProvider(settings: GcloudSettings): GcloudProjectIamProvider {
  return new GcloudProjectIamProvider({ projects: projectsClientFor(settings), settings });
}

/**
 * The Resource Manager client. Always the REST transport (the same path the tests drive); `endpoint`
 * may be plain `http://` for a fake or a private endpoint. Without `accessToken`, the client finds
 * Application Default Credentials as every Google library does.
 */
export function projectsClientFor({ endpoint, accessToken }: Pick<GcloudSettings, 'endpoint' | 'accessToken'>): ProjectsClient {
  const options: NonNullable<ConstructorParameters<typeof ProjectsClient>[0]> = { fallback: true };
  if (endpoint !== undefined) {
    const url = new URL(endpoint);
    options.protocol = url.protocol.replace(/:$/, '');
    // An IPv6 host keeps its brackets: the transport builds `<protocol>://<servicePath>:<port>/...`.
    options.servicePath = url.hostname;
    options.port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  }
  if (accessToken !== undefined) {
    // An OAuth2 client holding only an access token sends it as is and never tries to refresh it.
    options.authClient = new OAuth2Client({ credentials: { access_token: accessToken } });
  }
  return new ProjectsClient(options);
}

/**
 * Private to one request: each request has its own conditional binding, so ending one never ends
 * another's access (see GrantInspection.resourceKey).
 */
function resourceKeyOf(grant: ResolvedGrant): string {
  return `gcloud:projects/${grant.project}:${grant.role}:${grant.member}:${grant.title}`;
}

function describe(grant: ResolvedGrant): string {
  return `${grant.role} to ${grant.member} on project ${grant.project} (condition ${grant.title})`;
}

/** The ref says which binding and member: everything removeMarked needs, as plain strings. */
function markedGrantOf(grant: ResolvedGrant, requestId: string): MarkedGrant {
  const { project, role, member, title } = grant;
  return {
    provider: 'gcloud',
    requestId,
    description: `project ${project}: ${role} for ${member} (condition ${title})`,
    ref: { project, role, member, title },
  };
}

/**
 * Reads a MarkedGrant's ref back. Refuses anything that is not one of ours (a title that names no
 * request), so removeMarked can never touch a binding the product did not write.
 */
function grantOfMarked({ provider, ref }: MarkedGrant): ResolvedGrant {
  const { project, role, member, title } = ref;
  if (provider !== 'gcloud' || !project || !role || !member || requestIdOfConditionTitle(title) === undefined) {
    throw new ProviderInputError(`Not a Google Cloud grant listMarked found: ${JSON.stringify({ provider, ref })}`);
  }
  if (!PROJECT_PATTERN.test(project)) throw new ProviderInputError(`"${project}" is not a Google Cloud project id or number`);
  return { project, role, member, title: title! };
}
