"""gunicorn's settings, read when `gunicorn wsgi:app` starts in this folder (its default config file).

The access log (on with `--access-logfile -` or a file) writes the matched route, not the path and query (a
confirmation link's token, a `next=`), no referrer (which repeats them), and no client address or user agent:
personal data an access log does not need (app/access_log.py). `%(p)s` names the worker.
"""

access_log_format = '%(t)s %(p)s "%(m)s %({quorum.route}e)s" %(s)s %(b)s %(M)sms'
