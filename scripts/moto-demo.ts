/**
 * `npm run demo:moto -- alice@example.com [...]`: a local stand-in for AWS IAM to try the product
 * without an AWS account. Starts moto (installed into the tool cache by scripts/ensure-moto.sh) on
 * 127.0.0.1:5000, creates what config/p0.example.yaml offers (role AdminRole, group Developers; the
 * AWS-managed ReadOnlyAccess comes with moto) and an IAM user tagged email=<address> for each
 * address given, then keeps running until Ctrl-C. Start the product in another terminal with the
 * environment it prints.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { CreateGroupCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';

const PORT = Number(process.env.MOTO_PORT ?? 5000);
const ENDPOINT = `http://127.0.0.1:${PORT}`;

async function main(): Promise<void> {
  const emails = process.argv.slice(2);
  if (emails.length === 0) throw new Error('usage: npm run demo:moto -- <email> [<email> ...]  (the requesters to create IAM users for)');
  const motoServer = execFileSync('bash', [path.join(__dirname, 'ensure-moto.sh')], { encoding: 'utf8' }).trim();
  const moto = spawn(motoServer, ['-H', '127.0.0.1', '-p', String(PORT)], {
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' },
    stdio: 'ignore', // its per-request log would drown the instructions below
  });
  process.once('SIGINT', () => moto.kill('SIGTERM'));
  process.once('SIGTERM', () => moto.kill('SIGTERM'));
  await waitForMoto();

  const iam = new IAMClient({ region: 'us-east-1', endpoint: ENDPOINT, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }],
  });
  await iam.send(new CreateRoleCommand({ RoleName: 'AdminRole', AssumeRolePolicyDocument: trust }));
  await iam.send(new CreateGroupCommand({ GroupName: 'Developers' }));
  for (const email of emails) {
    const userName = email.split('@')[0]!;
    await iam.send(new CreateUserCommand({ UserName: userName, Tags: [{ Key: 'email', Value: email }] }));
  }
  console.log(`moto IAM is running on ${ENDPOINT} with role AdminRole, group Developers and users for ${emails.join(', ')}.
Start the product against it in another terminal:

  AWS_ENDPOINT_URL=${ENDPOINT} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing npm start

Ctrl-C here stops moto (its state is in memory and is lost).`);
  await new Promise((resolve) => moto.once('exit', resolve));
}

async function waitForMoto(): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await fetch(`${ENDPOINT}/moto-api/`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`moto did not answer on ${ENDPOINT}`);
}

main().catch((error: unknown) => {
  console.error(`demo:moto: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
