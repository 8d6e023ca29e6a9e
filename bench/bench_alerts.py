# -*- coding: utf-8 -*-
# Copyright (c) acgs.haproxy_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alert latency: from a stand-in server stopping to the webhook sink receiving HAProxyBackendServerDown.

Run from the repository root on a converged lab:  .venv/bin/python bench/bench_alerts.py  [--help]
(ACGS_LAB names the lab, default "acgs-lab").

Each of --runs (3) runs stops one stand-in process (systemctl stop acgs-demo@<service> on
<host>), times the firing notification at mon1:9095 (the sink's own receive time; the
containers share this machine's clock), starts the process again and times the resolved
notification too. The bound of each is computed from what runs (tests/integration/alerting.py):
HAProxy's check detection (inter, fastinter, fall, timeout check from lb1's haproxy.cfg) +
scrape interval + evaluation interval + the rule's `for` + the route's group_wait (firing), or
+ group_interval (resolved: Alertmanager sends resolved alerts with the group's next flush) +
a slack of 10 s. A run waits for its resolved notification before the next one starts: until
then Alertmanager's group for the alert still exists, and a new alert in it would wait for the
group's next flush instead of group_wait (or, with the labels of an alert the group already
notified, not be notified at all). For the same reason the first run waits for a group an
earlier fault left open. So one run takes about 7 minutes (5 of them the warning route's
group_interval). Results: a table on stdout and bench/results/alerts.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration'))
import common  # noqa: E402
from common import log, table  # noqa: E402
import alerting  # noqa: E402

ALERT = 'HAProxyBackendServerDown'
# The load balancer's exporter instance label (the haproxy job: <inventory host>:9101).
INSTANCE = 'lb1:9101'


def one_run(lab, stack, config, checks, service, host, index):
    match = {'proxy': service + '_backend', 'server': host, 'instance': INSTANCE}
    group = {'alertname': ALERT, 'instance': INSTANCE}
    waited = stack.wait_group_closed(group, config['alerts'][ALERT]['group_interval_s'] + alerting.SLACK_S + 30)
    if waited:
        log('run %d: waited %.0f s for the previous %s group to send its resolved notification' % (
            index, waited, ALERT))
    fire_bound = alerting.bound_firing(config, ALERT, checks['down_detection_s'])
    resolve_bound = alerting.bound_resolved(config, ALERT, checks['up_detection_s'])
    started = time.time()
    alerting.stop_service(lab, host, service)
    try:
        log('run %d: stopped %s on %s, waiting for %s (bound %.0f s)' % (index, service, host, ALERT, fire_bound))
        found = stack.wait_notification(started, fire_bound + 60, ALERT, 'firing', match)
    finally:
        restored = time.time()
        alerting.start_service(lab, host, service)
    fired = round(found[0] - started, 1) if found else None
    log('run %d: firing after %s s; started again, waiting for the resolved notification (bound %.0f s)' % (
        index, fired, resolve_bound))
    resolved_found = stack.wait_notification(restored, resolve_bound + 60, ALERT, 'resolved', match)
    resolved = round(resolved_found[0] - restored, 1) if resolved_found else None
    return {'run': index, 'service': service, 'host': host, 'firing_s': fired, 'firing_bound_s': fire_bound,
            'firing_within_bound': fired is not None and fired <= fire_bound,
            'resolved_s': resolved, 'resolved_bound_s': resolve_bound,
            'resolved_within_bound': resolved is not None and resolved <= resolve_bound,
            'down_s': round(restored - started, 1), 'waited_for_open_group_s': waited}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='measurements (default 3, at most 10)')
    parser.add_argument('--service', default='ac', help='stand-in service to stop (default ac: ac_backend)')
    parser.add_argument('--host', default='app1', help='host whose instance is stopped (default app1)')
    args = parser.parse_args()
    runs = max(1, min(args.runs, 10))
    lab_name = os.environ.get('ACGS_LAB', 'acgs-lab')
    try:
        lab = alerting.LabHosts(lab_name)
    except alerting.LabNotUp as exc:
        raise SystemExit(str(exc))
    stack = alerting.Stack(lab)
    config = alerting.configured(stack, [ALERT])
    checks = alerting.check_timings(lab, args.service + '_backend')
    state = stack.server_state(args.service + '_backend', args.host)
    if not state.startswith('UP'):
        raise SystemExit('%s_backend/%s is %s: converge the lab first' % (args.service, args.host, state))
    active = [a['labels'] for a in stack.prom_alerts(ALERT)]
    if active:
        raise SystemExit('%s is already active, the figures would be wrong: %s' % (ALERT, active))
    info = common.machine_info()
    log('lab %s: scrape %ss, evaluation %ss, for %ss, group_wait %ss, group_interval %ss, check detection %ss' % (
        lab_name, config['scrape_interval_s'], config['evaluation_interval_s'], config['alerts'][ALERT]['for_s'],
        config['alerts'][ALERT]['group_wait_s'], config['alerts'][ALERT]['group_interval_s'],
        checks['down_detection_s']))
    results = [one_run(lab, stack, config, checks, args.service, args.host, i + 1) for i in range(runs)]
    rows = [(r['run'], r['firing_s'], r['firing_bound_s'], 'yes' if r['firing_within_bound'] else 'NO',
             r['resolved_s'], r['resolved_bound_s'], 'yes' if r['resolved_within_bound'] else 'NO') for r in results]
    fired = [r['firing_s'] for r in results if r['firing_s'] is not None]
    resolved = [r['resolved_s'] for r in results if r['resolved_s'] is not None]
    if fired:
        rows.append(('median', statistics.median(fired), results[0]['firing_bound_s'], '',
                     statistics.median(resolved) if resolved else None, results[0]['resolved_bound_s'], ''))
    print('%s on lab %s: stop %s on %s -> webhook sink (s)' % (ALERT, lab_name, args.service, args.host))
    print(table(['run', 'firing', 'bound', 'ok', 'resolved', 'bound', 'ok'], rows))
    common.save('alerts', {'machine': info, 'lab': lab_name, 'alert': ALERT,
                           'configured': dict(config, haproxy_checks=checks, slack_s=alerting.SLACK_S),
                           'runs': results})
    return 0 if all(r['firing_within_bound'] and r['resolved_within_bound'] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
