import os, sys, requests
from dotenv import load_dotenv

load_dotenv()
token = os.environ["API_TOKEN"]
resp = requests.post(f"https://api.company.example/{sys.argv[1]}",
                     headers={"Authorization": f"Bearer {token}"}, json={"source": "agent"}, timeout=10)
resp.raise_for_status()
print(resp.json())
