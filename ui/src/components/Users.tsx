import { useEffect, useState } from "preact/hooks";
import { createUser, deleteUser, listUsers, messageOf, updateUser, type User } from "../api/client";
import { useAccount } from "../account";
import { formatDate } from "../format";

type Role = User["role"];
const ROLES: Role[] = ["admin", "member", "viewer"];

/** Admins: create members and viewers, change roles, disable, reset passwords, delete. */
export function Users() {
  const account = useAccount();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [password, setPassword] = useState("");

  async function reload(): Promise<void> {
    try {
      setUsers(await listUsers());
    } catch (err) {
      setError(messageOf(err));
    }
  }

  useEffect(() => {
    void reload();
  }, []);

  async function run(action: () => Promise<unknown>, done: string): Promise<boolean> {
    setError(null);
    setStatus(null);
    try {
      await action();
      setStatus(done);
      await reload();
      return true;
    } catch (err) {
      setError(messageOf(err));
      return false;
    }
  }

  async function create(event: Event): Promise<void> {
    event.preventDefault();
    const made = name.trim();
    if (await run(() => createUser({ name: made, role, password }), `Created ${made}.`)) {
      setName("");
      setPassword("");
    }
  }

  function resetPassword(user: User): void {
    const next = window.prompt(`New password for ${user.name} (10 to 256 characters):`);
    if (next) void run(() => updateUser(user.id, { password: next }), `New password set for ${user.name}.`);
  }

  return (
    <div class="account-page users">
      <h1 class="page-title">Users</h1>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {status && (
        <p class="muted" role="status">
          {status}
        </p>
      )}
      <form class="account-form inline" onSubmit={(event) => void create(event)} aria-label="New user">
        <label for="user-name">User name</label>
        <input
          id="user-name"
          required
          maxLength={32}
          pattern="[A-Za-z0-9_.\-]{1,32}"
          title="1-32 letters, digits, dots, dashes or underscores"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <label for="user-role">Role</label>
        <select id="user-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <label for="user-password">Password</label>
        <input
          id="user-password"
          type="password"
          autocomplete="new-password"
          required
          minLength={10}
          maxLength={256}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <button type="submit" class="button primary">
          Create user
        </button>
      </form>
      {users && (
        <table class="account-table" aria-label="Users">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.id} class={user.disabled ? "disabled" : undefined}>
                <td>
                  {user.name}
                  {user.id === account.me?.id ? " (you)" : ""}
                </td>
                <td>
                  <select
                    aria-label={`Role of ${user.name}`}
                    value={user.role}
                    onChange={(e) => {
                      const next = e.currentTarget.value as Role;
                      void run(() => updateUser(user.id, { role: next }), `${user.name} is now ${next}.`);
                    }}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td>{user.disabled ? "Disabled" : "Active"}</td>
                <td>{formatDate(user.created_at)}</td>
                <td class="row-actions">
                  <button
                    type="button"
                    class="button small ghost"
                    onClick={() =>
                      void run(
                        () => updateUser(user.id, { disabled: !user.disabled }),
                        `${user.name} is ${user.disabled ? "enabled" : "disabled"}.`,
                      )
                    }
                  >
                    {user.disabled ? `Enable ${user.name}` : `Disable ${user.name}`}
                  </button>
                  <button type="button" class="button small ghost" onClick={() => resetPassword(user)}>
                    Reset password of {user.name}
                  </button>
                  <button
                    type="button"
                    class="button small ghost"
                    onClick={() => {
                      if (window.confirm(`Delete ${user.name}? Their uploads stay.`)) {
                        void run(() => deleteUser(user.id), `Deleted ${user.name}.`);
                      }
                    }}
                  >
                    Delete {user.name}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
