/** The bare workflow's activities: the same IAM calls the product makes for a group grant. */
import { AddUserToGroupCommand, IAMClient, ListGroupsForUserCommand, RemoveUserFromGroupCommand } from '@aws-sdk/client-iam';

const iam = new IAMClient({});

export async function addToGroup(userName: string, group: string): Promise<void> {
  await iam.send(new AddUserToGroupCommand({ UserName: userName, GroupName: group }));
}

export async function readBack(userName: string, group: string): Promise<boolean> {
  const answer = await iam.send(new ListGroupsForUserCommand({ UserName: userName }));
  return (answer.Groups ?? []).some((candidate) => candidate.GroupName === group);
}

export async function removeFromGroup(userName: string, group: string): Promise<void> {
  await iam.send(new RemoveUserFromGroupCommand({ UserName: userName, GroupName: group }));
}

/** The bunched-expiry baseline's removal and read-back: nothing to call, like the product's no-op provider there. */
export function noopRemove(): Promise<void> {
  return Promise.resolve();
}

export function noopReadBack(): Promise<boolean> {
  return Promise.resolve(false);
}
