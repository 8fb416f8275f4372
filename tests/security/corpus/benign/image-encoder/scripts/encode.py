import base64, sys

def encode(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()

if __name__ == "__main__":
    print(encode(sys.argv[1]))
