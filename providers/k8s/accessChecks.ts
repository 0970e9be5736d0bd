/**
 * What "Kubernetes says yes" means for a grant: SubjectAccessReviews (authorization.k8s.io/v1) that
 * ask the API server's own authorizer whether the subject may do one thing each rule of the role
 * allows. One check per rule (its first verb on its first resource), so a role with several rules is
 * only reported granted when every rule is in force. Configured checks (settings `checks`) replace the
 * derived ones for roles whose rules do not make good questions.
 */
import type { V1PolicyRule, V1SubjectAccessReview } from '@kubernetes/client-node';
import type { K8sSubjectKind } from './catalog';

/** One question for the authorizer: a resource request (`verb` + `resource`) or a non-resource URL. */
export interface AccessCheck {
  verb: string;
  /** API group; '' (the default) is the core group. */
  group?: string;
  /** Plural resource, e.g. `pods`, `deployments`. */
  resource?: string;
  subresource?: string;
  /** A single object's name, for rules limited by `resourceNames`. */
  name?: string;
  /** A non-resource path such as `/healthz`, instead of a resource. */
  nonResourceURL?: string;
}

/** The subject a check is asked about, as the binding names it. */
export interface CheckSubject {
  kind: K8sSubjectKind;
  name: string;
}

/** One check per rule that names something to check; rules with no verb or no target are skipped. */
export function checksFromRules(rules: readonly V1PolicyRule[]): AccessCheck[] {
  const checks: AccessCheck[] = [];
  for (const rule of rules) {
    const verb = rule.verbs[0];
    if (!verb) continue;
    const resourceEntry = rule.resources?.[0];
    if (resourceEntry) {
      // `pods/log` is the `log` subresource of `pods`; `*/scale` the `scale` subresource of everything.
      const [resource, ...subresource] = resourceEntry.split('/');
      const check: AccessCheck = { verb, group: rule.apiGroups?.[0] ?? '', resource };
      if (subresource.length > 0) check.subresource = subresource.join('/');
      const name = rule.resourceNames?.[0];
      if (name) check.name = name;
      checks.push(check);
      continue;
    }
    const nonResourceURL = rule.nonResourceURLs?.[0];
    if (nonResourceURL) checks.push({ verb, nonResourceURL });
  }
  return checks;
}

/** The SubjectAccessReview asking `check` for `subject`, in `namespace` (undefined = cluster-wide). */
export function subjectAccessReviewFor(check: AccessCheck, subject: CheckSubject, namespace: string | undefined): V1SubjectAccessReview {
  const who = subject.kind === 'User' ? { user: subject.name } : { groups: [subject.name] };
  if (check.nonResourceURL !== undefined) {
    return {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { ...who, nonResourceAttributes: { path: check.nonResourceURL, verb: check.verb } },
    };
  }
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      ...who,
      resourceAttributes: {
        namespace,
        verb: check.verb,
        group: check.group ?? '',
        resource: check.resource,
        subresource: check.subresource,
        name: check.name,
      },
    },
  };
}

/** `list pods`, `get deployments.apps/scale prod-api`, `get /healthz`: for messages. */
export function describeCheck(check: AccessCheck): string {
  if (check.nonResourceURL !== undefined) return `${check.verb} ${check.nonResourceURL}`;
  const resource = `${check.resource ?? '*'}${check.group ? `.${check.group}` : ''}${check.subresource ? `/${check.subresource}` : ''}`;
  return `${check.verb} ${resource}${check.name ? ` ${check.name}` : ''}`;
}
