import sys, requests
from bs4 import BeautifulSoup

html = requests.get(sys.argv[1], timeout=10).text
for tag in BeautifulSoup(html, "html.parser").select(".price"):
    print(tag.get_text(strip=True))
