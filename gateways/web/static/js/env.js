// What the server says before anyone signs in: its clock, zone and whether demo login is on.
let current = { now: new Date().toISOString(), timezone: 'Asia/Ho_Chi_Minh', demo_login: false, charts: true };

export function env() {
  return current;
}

export async function loadEnv() {
  try {
    const res = await fetch('/ui/env.json', { headers: { Accept: 'application/json' } });
    if (res.ok) current = await res.json();
  } catch {
    // Offline or the server is restarting: keep the last known values.
  }
  return current;
}
